"""Settings: read once from ``FLOWTRACK_*`` environment variables, validated, passed down.

Nothing else in flowtrack reads the environment. Each setting is declared once: a field
of :class:`Settings` whose default is ``_setting(variable, parser, default as written in
the environment, help)``, which keeps a :class:`Setting` in the field's metadata. The
field's default, its parsing in :meth:`Settings.from_env` and its error messages all come
from that declaration. The ``FLOWTRACK_GENESYS_*`` variables are declared together in the
one field they build, ``genesys``.

A bad value stops the process at start with every problem at once, each naming its
variable and saying what is expected; the value of a secret setting is never echoed.
"""

# The Settings fields' defaults are declarations: calls of _setting and _group, which
# return dataclasses.field(...) carrying the declaration as metadata.
# ruff: noqa: RUF009

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Callable, Mapping, Set
from dataclasses import dataclass, field, fields
from typing import Any, Final, Generic, Literal, TypeVar

from sqlalchemy.engine import URL

from receiver.errors import FlowtrackError
from receiver.genesys.config import GenesysConfig
from storage.engine import DEFAULT_DATABASE_URL, database_url
from storage.errors import InvalidDatabaseURL

PREFIX = "FLOWTRACK_"
T = TypeVar("T")

#: Key of a field's declaration in its dataclass metadata.
_DECLARATION: Final = "flowtrack.setting"
_DEFAULT_REGION: Final = "mypurecloud.com"


class SettingsError(FlowtrackError):
    """One or more ``FLOWTRACK_*`` variables are missing or invalid."""

    code = "invalid_settings"

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid configuration:\n  " + "\n  ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class WebhookSecret:
    """A Standard Webhooks signing secret (``whsec_<base64>``), decoded."""

    key: bytes = field(repr=False)


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One ``FLOWTRACK_*`` variable: its name, parser, default and help, written once.

    ``default`` is written as it would be in the environment (``""``: unset) and goes
    through ``parse`` like any value. ``parse`` raises ValueError with what is expected;
    for a ``secret`` setting the message is dropped if it quotes the value anyway.
    """

    name: str
    parse: Callable[[str], T]
    default: str
    help: str
    secret: bool = False

    @property
    def variable(self) -> str:
        return PREFIX + self.name

    def read(self, environ: Mapping[str, str], problems: list[str]) -> T:
        """The parsed value; on a bad one, a problem naming the variable and the default."""
        raw = environ.get(self.variable, self.default)
        try:
            return self.parse(raw)
        except ValueError as exc:
            message = str(exc)
            if self.secret and _quotes(message, raw):
                message = "invalid value (not shown: it is a secret)"
            problems.append(f"{self.variable}: {message}")
            return self.parse(self.default)


@dataclass(frozen=True)
class SettingGroup(Generic[T]):
    """Variables that together build one field (``FLOWTRACK_GENESYS_*`` → ``genesys``).

    Each variable is parsed (and reported) on its own; ``build`` gets the values by name,
    the names given a non-blank value, and the problem list for the cross-checks.
    """

    settings: tuple[Setting[Any], ...]
    build: Callable[[Mapping[str, Any], Set[str], list[str]], T]

    def read(self, environ: Mapping[str, str], problems: list[str]) -> T:
        values = {setting.name: setting.read(environ, problems) for setting in self.settings}
        given = {s.name for s in self.settings if environ.get(s.variable, "").strip()}
        return self.build(values, given, problems)


def _quotes(message: str, raw: str) -> bool:
    parts = [raw.strip(), *(part.strip() for part in raw.split(","))]
    return any(part in message for part in parts if part)


def _setting(
    name: str, parse: Callable[[str], T], default: str, help: str, *, secret: bool = False
) -> T:
    """A :class:`Settings` field declared by its variable; its default is ``parse(default)``."""
    declaration = Setting(name, parse, default, help, secret)
    metadata = {_DECLARATION: declaration}
    value = parse(default)
    if type(value).__hash__ is None:  # mutable (a dict): every instance gets its own
        return field(default_factory=lambda: parse(default), repr=not secret, metadata=metadata)
    return field(default=value, repr=not secret, metadata=metadata)


def _group(
    build: Callable[[Mapping[str, Any], Set[str], list[str]], T], *settings: Setting[Any]
) -> T:
    """A :class:`Settings` field built from several variables; its default is built from theirs."""
    group = SettingGroup(settings, build)
    return field(default=group.read({}, []), metadata={_DECLARATION: group})


def _genesys(
    values: Mapping[str, Any], given: Set[str], problems: list[str]
) -> GenesysConfig | None:
    """The Genesys client settings; None when no client id is set (receive-only mode)."""
    if "GENESYS_CLIENT_ID" not in given:
        others = {"GENESYS_CLIENT_SECRET", "GENESYS_REGION", "GENESYS_API_URL", "GENESYS_LOGIN_URL"}
        if given & others:
            problems.append(
                f"{PREFIX}GENESYS_CLIENT_ID: required when other {PREFIX}GENESYS_* are set"
            )
        return None
    if "GENESYS_CLIENT_SECRET" not in given:
        problems.append(f"{PREFIX}GENESYS_CLIENT_SECRET: required with a client id")
        return None
    api_url, login_url = values["GENESYS_API_URL"], values["GENESYS_LOGIN_URL"]
    if (api_url is None) != (login_url is None):
        problems.append(
            f"{PREFIX}GENESYS_API_URL and {PREFIX}GENESYS_LOGIN_URL: set both or neither"
        )
        return None
    credentials = {
        "client_id": values["GENESYS_CLIENT_ID"],
        "client_secret": values["GENESYS_CLIENT_SECRET"],
        "rate_limit_per_minute": values["GENESYS_RATE_LIMIT_PER_MINUTE"],
    }
    try:
        if api_url is not None:
            return GenesysConfig(api_url=api_url, login_url=login_url, **credentials)
        return GenesysConfig.for_region(values["GENESYS_REGION"], **credentials)
    except ValueError as exc:  # not expected: the variables' parsers check the same
        problems.append(f"{PREFIX}GENESYS_*: {exc}")
        return None


def _text(raw: str) -> str:
    return raw.strip()


def _flag(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("", "0", "false", "no", "off"):
        return False
    raise ValueError(f"expected 1/0, true/false, yes/no or on/off, got {raw!r}")


def _positive_int(raw: str) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise ValueError(f"expected a whole number, got {raw!r}") from None
    if value <= 0:
        raise ValueError(f"expected a number above 0, got {value}")
    return value


def _optional_positive_int(raw: str) -> int | None:
    return _positive_int(raw) if raw.strip() else None


def _positive_float(raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise ValueError(f"expected a number of seconds, got {raw!r}") from None
    if not value > 0:
        raise ValueError(f"expected a number above 0, got {raw!r}")
    return value


def _choice(*allowed: str, upper: bool = False) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().upper() if upper else raw.strip().lower()
        if value not in allowed:
            raise ValueError(f"expected one of {', '.join(allowed)}, got {raw!r}")
        return value

    return parse


def _synchronous(raw: str) -> Literal["full", "normal"]:
    value = _choice("full", "normal")(raw)
    return "full" if value == "full" else "normal"


def _checkpoints(raw: str) -> Literal["commit", "background"]:
    value = _choice("commit", "background")(raw)
    return "commit" if value == "commit" else "background"


def _log_format(raw: str) -> Literal["json", "text"]:
    value = _choice("json", "text")(raw)
    return "json" if value == "json" else "text"


def _identifier(raw: str) -> str:
    value = raw.strip()
    if not value or len(value) > 100 or any(c.isspace() for c in value):
        raise ValueError(f"expected a name without spaces (1-100 characters), got {raw!r}")
    return value


def _optional_url(raw: str) -> str | None:
    value = raw.strip().rstrip("/")
    if not value:
        return None
    if not value.startswith(("https://", "http://")):
        raise ValueError(f"expected an http(s) URL, got {raw!r}")
    return value


def _region(raw: str) -> str:
    """A Genesys region name or domain, as its domain; blank is the default region."""
    return GenesysConfig.region_domain(raw.strip() or _DEFAULT_REGION)


def _database_url(raw: str) -> URL:
    try:
        return database_url(raw)
    except InvalidDatabaseURL as exc:
        # storage quotes a URL it cannot parse: its password must not reach the logs.
        hidden = _without_password(raw)
        raise ValueError(str(exc).replace(repr(raw), repr(hidden)).replace(raw, hidden)) from exc


def _without_password(url: str) -> str:
    """``url`` with what stands between its user name and its (last) ``@`` starred out."""
    userinfo, at, host = url.rpartition("@")
    scheme, slashes, credentials = userinfo.rpartition("//")
    user, colon, _ = credentials.partition(":")
    return f"{scheme}{slashes}{user}:***@{host}" if at and colon else url


def _flow_timeouts(raw: str) -> dict[str, int]:
    timeouts: dict[str, int] = {}
    for part in (p.strip() for p in raw.split(",") if p.strip()):
        flow_id, sep, seconds = part.partition("=")
        if not sep or not flow_id.strip():
            raise ValueError(f"expected flowId=seconds pairs separated by commas, got {part!r}")
        timeouts[flow_id.strip()] = _positive_int(seconds)
    return timeouts


def _tokens(raw: str) -> tuple[str, ...]:
    tokens = tuple(part.strip() for part in raw.split(",") if part.strip())
    for token in tokens:
        if len(token) < 16:
            # Never echo the token itself: this message ends up in logs.
            raise ValueError("every token must be at least 16 characters long")
    return tokens


def _secrets(raw: str) -> tuple[WebhookSecret, ...]:
    secrets = []
    for position, part in enumerate((p.strip() for p in raw.split(",") if p.strip()), 1):
        if not part.startswith("whsec_"):
            raise ValueError(f"secret #{position} must have the form whsec_<base64>")
        try:
            key = base64.b64decode(part.removeprefix("whsec_"), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"secret #{position} is not valid base64 after whsec_") from None
        if len(key) < 16:
            raise ValueError(f"secret #{position} is shorter than 16 bytes")
        secrets.append(WebhookSecret(key))
    return tuple(secrets)


@dataclass(frozen=True)
class Settings:
    """Every setting flowtrack has, each declared once by its ``FLOWTRACK_*`` variable."""

    database_url: URL = _setting(
        "DATABASE_URL",
        _database_url,
        DEFAULT_DATABASE_URL,
        "`sqlite:///path/file.db` (relative to the working directory; `sqlite:////abs/path.db` "
        "for absolute) or `postgresql://user:pass@host:5432/db` (`postgres://` also accepted). "
        "An error message never shows its password.",
    )
    sqlite_synchronous: Literal["full", "normal"] = _setting(
        "SQLITE_SYNCHRONOUS",
        _synchronous,
        "full",
        "`full`: a committed event survives power loss; `normal`: it survives a crash of "
        "flowtrack, not of the machine (faster on slow disks).",
    )
    sqlite_checkpoints: Literal["commit", "background"] = _setting(
        "SQLITE_CHECKPOINTS",
        _checkpoints,
        "commit",
        "Who copies SQLite's write-ahead log back into the database. `commit`: SQLite itself, "
        "inside a commit every 1,000 pages. `background`: a checkpointer thread, so commits "
        "never wait for it — more events/s (+16 % empty, +34 % with a million stored, see "
        "*How ingestion works*), but with a million stored its p99 was 76 ms against 27 ms, "
        "and the `-wal` file grows to 100 to 160 MB under sustained load.",
    )
    sqlite_busy_timeout_ms: int = _setting(
        "SQLITE_BUSY_TIMEOUT_MS",
        _positive_int,
        "5000",
        "How long SQLite waits for a lock before the request gets a 503.",
    )
    callback_tokens: tuple[str, ...] = _setting(
        "CALLBACK_TOKENS",
        _tokens,
        "",
        "Comma-separated static tokens accepted on the callback endpoint (16+ characters "
        "each). Several may be active while rotating.",
        secret=True,
    )
    webhook_secrets: tuple[WebhookSecret, ...] = _setting(
        "WEBHOOK_SECRETS",
        _secrets,
        "",
        "Comma-separated Standard Webhooks secrets, `whsec_<base64>` (16+ bytes each).",
        secret=True,
    )
    webhook_tolerance_seconds: int = _setting(
        "WEBHOOK_TOLERANCE_SECONDS",
        _positive_int,
        "300",
        "Accepted clock difference for `webhook-timestamp`.",
    )
    insecure_callbacks: bool = _setting(
        "INSECURE_CALLBACKS",
        _flag,
        "0",
        "`1` accepts unauthenticated callbacks when no token or secret is set (development "
        "only). Without it, the server refuses to start with neither configured.",
    )
    api_keys: tuple[str, ...] = _setting(
        "API_KEYS", _tokens, "", "Comma-separated read-write API keys.", secret=True
    )
    api_read_keys: tuple[str, ...] = _setting(
        "API_READ_KEYS", _tokens, "", "Comma-separated read-only API keys.", secret=True
    )
    insecure_api: bool = _setting(
        "INSECURE_API",
        _flag,
        "0",
        "`1` serves the API without keys when none is set (development only). Without it, "
        "the server refuses to start with no key configured.",
    )
    max_body_bytes: int = _setting(
        "MAX_BODY_BYTES",
        _positive_int,
        str(1024 * 1024),
        "Largest accepted callback body (413 beyond).",
    )
    writer_max_batch_events: int = _setting(
        "WRITER_MAX_BATCH_EVENTS",
        _positive_int,
        "5000",
        "Most events the writer commits in one transaction.",
    )
    genesys: GenesysConfig | None = _group(
        _genesys,
        Setting(
            "GENESYS_CLIENT_ID",
            _text,
            "",
            "OAuth client (client credentials grant) flowtrack launches flows with. Without "
            "it flowtrack only receives (launching answers 503).",
        ),
        Setting("GENESYS_CLIENT_SECRET", _text, "", "The OAuth client's secret.", secret=True),
        Setting(
            "GENESYS_REGION",
            _region,
            _DEFAULT_REGION,
            "The org's region domain (`usw2.pure.cloud`, `mypurecloud.de`, …) or name "
            "(`us-west-2`, `eu_central_1`): API at `https://api.{domain}`, token at "
            "`https://login.{domain}/oauth/token`.",
        ),
        Setting(
            "GENESYS_API_URL",
            _optional_url,
            "",
            "Explicit API base URL instead of a region, together with "
            "`FLOWTRACK_GENESYS_LOGIN_URL`, e.g. the sandbox's `http://127.0.0.1:8010`.",
        ),
        Setting(
            "GENESYS_LOGIN_URL",
            _optional_url,
            "",
            "Explicit login base URL instead of a region, together with "
            "`FLOWTRACK_GENESYS_API_URL`.",
        ),
        Setting(
            "GENESYS_RATE_LIMIT_PER_MINUTE",
            _positive_int,
            "300",
            "Client-side limit on Platform API requests (the default per-client limit of Genesys).",
        ),
    )
    launch_id_input_key: str = _setting(
        "LAUNCH_ID_INPUT_KEY",
        _identifier,
        "flowtrackLaunchId",
        "The `inputData` key flowtrack adds to every launch with its launch id, so flows can "
        "echo it as `launchId`. It must be an input variable of the flow.",
    )
    launch_timeout_seconds: int = _setting(
        "LAUNCH_TIMEOUT_SECONDS",
        _positive_int,
        "3600",
        "Deadline of a launch that does not set `timeoutSeconds`.",
    )
    flow_timeouts: Mapping[str, int] = _setting(
        "FLOW_TIMEOUTS",
        _flow_timeouts,
        "",
        "Per-flow default deadlines, `flowId=seconds,flowId=seconds`, used when a launch sets "
        "no `timeoutSeconds`.",
    )
    idle_timeout_seconds: int | None = _setting(
        "IDLE_TIMEOUT_SECONDS",
        _optional_positive_int,
        "",
        "Default idle limit (no event for this long) for launches that set no "
        "`idleTimeoutSeconds`.",
    )
    sweep_enabled: bool = _setting(
        "SWEEP_ENABLED",
        _flag,
        "1",
        "`0` switches this process's sweep off (e.g. on replicas that only ingest).",
    )
    sweep_interval_seconds: float = _setting(
        "SWEEP_INTERVAL", _positive_float, "10", "Seconds between sweeps."
    )
    sweep_batch_size: int = _setting(
        "SWEEP_BATCH_SIZE", _positive_int, "100", "Most launches one sweep claims."
    )
    sweep_claim_seconds: int = _setting(
        "SWEEP_CLAIM_SECONDS",
        _positive_int,
        "120",
        "How long a claim holds; a claim of a process that died expires after it.",
    )
    sweep_confirm_seconds: float = _setting(
        "SWEEP_CONFIRM_SECONDS",
        _positive_float,
        "2",
        "How soon after a disconnect request the sweep checks that the conversation ended.",
    )
    termination_max_attempts: int = _setting(
        "TERMINATION_MAX_ATTEMPTS",
        _positive_int,
        "5",
        "Failed attempts (platform errors, a conversation that stays up) before a launch "
        "shows `termination_failed`.",
    )
    retention_days: int | None = _setting(
        "RETENTION_DAYS",
        _optional_positive_int,
        "",
        "Delete events, finished launches and dead letters older than this many days (see "
        "*Retention*). Unset: keep them forever.",
    )
    retention_batch_size: int = _setting(
        "RETENTION_BATCH_SIZE",
        _positive_int,
        "1000",
        "Most rows one retention batch deletes, each batch in its own short transaction.",
    )
    retention_interval_seconds: float = _setting(
        "RETENTION_INTERVAL",
        _positive_float,
        "3600",
        "Seconds between retention runs; a run stops after half of it and the next one continues.",
    )
    public_url: str | None = _setting(
        "PUBLIC_URL",
        _optional_url,
        "",
        "Where Genesys reaches flowtrack (`https://flowtrack.example.com`); registration "
        "points the data action at `{PUBLIC_URL}/webhooks/genesys`.",
    )
    register_on_start: bool = _setting(
        "REGISTER_ON_START",
        _flag,
        "0",
        "`1`: `flowtrack serve` registers flowtrack with Genesys as it starts (in the "
        "background; failures are logged, never fatal).",
    )
    log_level: str = _setting(
        "LOG_LEVEL",
        _choice("DEBUG", "INFO", "WARNING", "ERROR", upper=True),
        "INFO",
        "`DEBUG`, `INFO`, `WARNING`, `ERROR`.",
    )
    log_format: Literal["json", "text"] = _setting(
        "LOG_FORMAT", _log_format, "json", "`json` lines, or `text` for a terminal."
    )
    access_log: bool = _setting(
        "ACCESS_LOG", _flag, "0", "`1` logs every HTTP request (uvicorn's access log)."
    )

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, serving: bool = True
    ) -> Settings:
        """Build settings from ``environ`` (default ``os.environ``), or raise SettingsError.

        ``serving=False`` (e.g. ``flowtrack migrate``) skips the checks that only matter
        to a process answering HTTP: callback and API credentials.
        """
        source = os.environ if environ is None else environ
        problems: list[str] = []
        values = {
            each.name: each.metadata[_DECLARATION].read(source, problems) for each in fields(cls)
        }
        settings = cls(**values)
        if serving:
            settings.check_credentials(problems)
        if problems:
            raise SettingsError(problems)
        return settings

    def check_credentials(self, problems: list[str]) -> None:
        """A server refuses to start without callback credentials and API keys."""
        if not (self.callback_tokens or self.webhook_secrets or self.insecure_callbacks):
            problems.append(
                "FLOWTRACK_CALLBACK_TOKENS or FLOWTRACK_WEBHOOK_SECRETS: set at least one "
                "(or FLOWTRACK_INSECURE_CALLBACKS=1 to accept unauthenticated callbacks "
                "in development)"
            )
        if not (self.api_keys or self.api_read_keys or self.insecure_api):
            problems.append(
                "FLOWTRACK_API_KEYS or FLOWTRACK_API_READ_KEYS: set at least one "
                "(or FLOWTRACK_INSECURE_API=1 to serve the API without keys in development)"
            )


def declarations() -> tuple[Setting[Any], ...]:
    """Every ``FLOWTRACK_*`` variable, in the order of the :class:`Settings` fields."""
    found: list[Setting[Any]] = []
    for each in fields(Settings):
        declaration = each.metadata[_DECLARATION]
        if isinstance(declaration, SettingGroup):
            found.extend(declaration.settings)
        else:
            found.append(declaration)
    return tuple(found)


def configuration_table() -> str:
    """The README's configuration table (markdown), one row per declared variable."""
    rows = ["| Variable | Default | Description |", "|---|---|---|"]
    for setting in declarations():
        default = f"`{setting.default}`" if setting.default else "\N{EN DASH}"
        described = (
            "**Secret**: never shown in logs or error messages. " if setting.secret else ""
        ) + setting.help
        cell = described.replace("|", "\\|").replace("\n", " ")
        rows.append(f"| `{setting.variable}` | {default} | {cell} |")
    return "\n".join(rows)


def main() -> None:
    """``python -m receiver.settings``: print the table to paste into the README."""
    print(configuration_table())


if __name__ == "__main__":
    main()
