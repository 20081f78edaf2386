"""Settings: read once from ``FLOWTRACK_*`` environment variables, validated, passed down.

Nothing else in flowtrack reads the environment. A bad value stops the process at start
with a message that names the variable and says what is expected.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from sqlalchemy.engine import URL

from receiver.errors import FlowtrackError
from receiver.genesys.config import GenesysConfig
from storage.engine import DEFAULT_DATABASE_URL, database_url
from storage.errors import InvalidDatabaseURL

PREFIX = "FLOWTRACK_"
T = TypeVar("T")


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
class Settings:
    """Every setting flowtrack has; see the README's configuration table."""

    database_url: URL = field(default_factory=lambda: database_url(DEFAULT_DATABASE_URL))
    sqlite_synchronous: Literal["full", "normal"] = "full"
    sqlite_checkpoints: Literal["commit", "background"] = "commit"
    sqlite_busy_timeout_ms: int = 5000
    callback_tokens: tuple[str, ...] = field(default=(), repr=False)
    webhook_secrets: tuple[WebhookSecret, ...] = field(default=(), repr=False)
    webhook_tolerance_seconds: int = 300
    insecure_callbacks: bool = False
    api_keys: tuple[str, ...] = field(default=(), repr=False)
    api_read_keys: tuple[str, ...] = field(default=(), repr=False)
    insecure_api: bool = False
    max_body_bytes: int = 1024 * 1024
    writer_max_batch_events: int = 5000
    genesys: GenesysConfig | None = None
    launch_id_input_key: str = "flowtrackLaunchId"
    launch_timeout_seconds: int = 3600
    flow_timeouts: Mapping[str, int] = field(default_factory=dict)
    idle_timeout_seconds: int | None = None
    sweep_enabled: bool = True
    sweep_interval_seconds: float = 10.0
    sweep_batch_size: int = 100
    sweep_claim_seconds: int = 120
    sweep_confirm_seconds: float = 2.0
    termination_max_attempts: int = 5
    retention_days: int | None = None
    retention_batch_size: int = 1000
    retention_interval_seconds: float = 3600.0
    public_url: str | None = None
    register_on_start: bool = False
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"
    access_log: bool = False

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, serving: bool = True
    ) -> Settings:
        """Build settings from ``environ`` (default ``os.environ``), or raise SettingsError.

        ``serving=False`` (e.g. ``flowtrack migrate``) skips the checks that only matter
        to a process answering HTTP: callback and API credentials.
        """
        reader = _Reader(os.environ if environ is None else environ)
        settings = cls(
            database_url=reader.get("DATABASE_URL", _database_url, DEFAULT_DATABASE_URL),
            sqlite_synchronous=reader.get("SQLITE_SYNCHRONOUS", _synchronous, "full"),
            sqlite_checkpoints=reader.get("SQLITE_CHECKPOINTS", _checkpoints, "commit"),
            sqlite_busy_timeout_ms=reader.get("SQLITE_BUSY_TIMEOUT_MS", _positive_int, "5000"),
            callback_tokens=reader.get("CALLBACK_TOKENS", _tokens, ""),
            webhook_secrets=reader.get("WEBHOOK_SECRETS", _secrets, ""),
            webhook_tolerance_seconds=reader.get("WEBHOOK_TOLERANCE_SECONDS", _positive_int, "300"),
            insecure_callbacks=reader.get("INSECURE_CALLBACKS", _flag, "0"),
            api_keys=reader.get("API_KEYS", _tokens, ""),
            api_read_keys=reader.get("API_READ_KEYS", _tokens, ""),
            insecure_api=reader.get("INSECURE_API", _flag, "0"),
            max_body_bytes=reader.get("MAX_BODY_BYTES", _positive_int, str(1024 * 1024)),
            writer_max_batch_events=reader.get("WRITER_MAX_BATCH_EVENTS", _positive_int, "5000"),
            genesys=_genesys(reader),
            launch_id_input_key=reader.get("LAUNCH_ID_INPUT_KEY", _identifier, "flowtrackLaunchId"),
            launch_timeout_seconds=reader.get("LAUNCH_TIMEOUT_SECONDS", _positive_int, "3600"),
            public_url=reader.get("PUBLIC_URL", _optional_url, ""),
            register_on_start=reader.get("REGISTER_ON_START", _flag, "0"),
            flow_timeouts=reader.get("FLOW_TIMEOUTS", _flow_timeouts, ""),
            idle_timeout_seconds=reader.get("IDLE_TIMEOUT_SECONDS", _optional_positive_int, ""),
            sweep_enabled=reader.get("SWEEP_ENABLED", _flag, "1"),
            sweep_interval_seconds=reader.get("SWEEP_INTERVAL", _positive_float, "10"),
            sweep_batch_size=reader.get("SWEEP_BATCH_SIZE", _positive_int, "100"),
            sweep_claim_seconds=reader.get("SWEEP_CLAIM_SECONDS", _positive_int, "120"),
            sweep_confirm_seconds=reader.get("SWEEP_CONFIRM_SECONDS", _positive_float, "2"),
            termination_max_attempts=reader.get("TERMINATION_MAX_ATTEMPTS", _positive_int, "5"),
            retention_days=reader.get("RETENTION_DAYS", _optional_positive_int, ""),
            retention_batch_size=reader.get("RETENTION_BATCH_SIZE", _positive_int, "1000"),
            retention_interval_seconds=reader.get("RETENTION_INTERVAL", _positive_float, "3600"),
            log_level=reader.get(
                "LOG_LEVEL", _choice("DEBUG", "INFO", "WARNING", "ERROR", upper=True), "INFO"
            ),
            log_format=reader.get("LOG_FORMAT", _log_format, "json"),
            access_log=reader.get("ACCESS_LOG", _flag, "0"),
        )
        if serving:
            settings.check_credentials(reader.problems)
        if reader.problems:
            raise SettingsError(reader.problems)
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


class _Reader:
    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.problems: list[str] = []

    def get(self, name: str, parse: Callable[[str], T], default: str) -> T:
        raw = self.environ.get(PREFIX + name, default)
        try:
            return parse(raw)
        except ValueError as exc:
            self.problems.append(f"{PREFIX}{name}: {exc}")
            return parse(default)


def _genesys(reader: _Reader) -> GenesysConfig | None:
    """The Genesys client settings; None when no client id is set (receive-only mode)."""
    client_id = reader.environ.get(PREFIX + "GENESYS_CLIENT_ID", "").strip()
    secret = reader.environ.get(PREFIX + "GENESYS_CLIENT_SECRET", "").strip()
    region = reader.environ.get(PREFIX + "GENESYS_REGION", "").strip()
    api_url = reader.environ.get(PREFIX + "GENESYS_API_URL", "").strip()
    login_url = reader.environ.get(PREFIX + "GENESYS_LOGIN_URL", "").strip()
    if not client_id:
        if secret or region or api_url or login_url:
            reader.problems.append(
                f"{PREFIX}GENESYS_CLIENT_ID: required when other {PREFIX}GENESYS_* are set"
            )
        return None
    if not secret:
        reader.problems.append(f"{PREFIX}GENESYS_CLIENT_SECRET: required with a client id")
        return None
    rate = reader.get("GENESYS_RATE_LIMIT_PER_MINUTE", _positive_int, "300")
    try:
        if api_url or login_url:
            if not (api_url and login_url):
                raise ValueError(
                    f"{PREFIX}GENESYS_API_URL and {PREFIX}GENESYS_LOGIN_URL go together"
                )
            return GenesysConfig(
                client_id=client_id,
                client_secret=secret,
                api_url=api_url,
                login_url=login_url,
                rate_limit_per_minute=rate,
            )
        return GenesysConfig.for_region(
            region or "mypurecloud.com",
            client_id=client_id,
            client_secret=secret,
            rate_limit_per_minute=rate,
        )
    except ValueError as exc:
        reader.problems.append(f"{PREFIX}GENESYS_REGION / _API_URL / _LOGIN_URL: {exc}")
        return None


def _positive_float(raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise ValueError(f"expected a number of seconds, got {raw!r}") from None
    if not value > 0:
        raise ValueError(f"expected a number above 0, got {raw!r}")
    return value


def _optional_positive_int(raw: str) -> int | None:
    return _positive_int(raw) if raw.strip() else None


def _flow_timeouts(raw: str) -> dict[str, int]:
    timeouts: dict[str, int] = {}
    for part in (p.strip() for p in raw.split(",") if p.strip()):
        flow_id, sep, seconds = part.partition("=")
        if not sep or not flow_id.strip():
            raise ValueError(f"expected flowId=seconds pairs separated by commas, got {part!r}")
        timeouts[flow_id.strip()] = _positive_int(seconds)
    return timeouts


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


def _database_url(raw: str) -> URL:
    try:
        return database_url(raw)
    except InvalidDatabaseURL as exc:
        raise ValueError(str(exc)) from exc


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
