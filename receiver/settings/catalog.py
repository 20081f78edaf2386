"""Every setting flowtrack has: the :class:`Settings` fields, read once from the environment.

Nothing else in flowtrack reads the environment. Each field is declared once by its
``FLOWTRACK_*`` variable (:mod:`receiver.settings.declaration`); :meth:`Settings.from_env`
reads them all, reports every bad value at once and refuses to serve without credentials.
"""

# The Settings fields' defaults are declarations: calls of setting and setting_group,
# which return dataclasses.field(...) carrying the declaration as metadata.
# ruff: noqa: RUF009

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Literal

from sqlalchemy.engine import URL

from receiver.errors import FlowtrackError
from receiver.genesys.config import GenesysConfig
from receiver.settings import values
from receiver.settings.actions import SETTINGS as ACTIONS_SETTINGS
from receiver.settings.actions import ActionsConfig, actions_config
from receiver.settings.console import SETTINGS as CONSOLE_SETTINGS
from receiver.settings.console import ConsoleConfig, console_config
from receiver.settings.declaration import DECLARATION, Setting, setting, setting_group
from receiver.settings.genesys import DEFAULT_REGION, genesys_config, region
from receiver.settings.rollups import SETTINGS as ROLLUPS_SETTINGS
from receiver.settings.rollups import RollupsConfig, rollups_config
from receiver.settings.tracking import SETTINGS as TRACKING_SETTINGS
from receiver.settings.tracking import TrackingConfig, tracking_config
from receiver.settings.values import ApiKey, WebhookSecret
from receiver.settings.webhooks import SETTINGS as WEBHOOKS_SETTINGS
from receiver.settings.webhooks import WebhooksConfig, webhooks_config
from storage.engine import DEFAULT_DATABASE_URL


class SettingsError(FlowtrackError):
    """One or more ``FLOWTRACK_*`` variables are missing or invalid."""

    code = "invalid_settings"

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid configuration:\n  " + "\n  ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Settings:
    """Every setting flowtrack has, each declared once by its ``FLOWTRACK_*`` variable."""

    database_url: URL = setting(
        "DATABASE_URL",
        values.database_url,
        DEFAULT_DATABASE_URL,
        "`sqlite:///path/file.db` (relative to the working directory; `sqlite:////abs/path.db` "
        "for absolute) or `postgresql://user:pass@host:5432/db` (`postgres://` also accepted). "
        "An error message never shows its password.",
    )
    sqlite_synchronous: Literal["full", "normal"] = setting(
        "SQLITE_SYNCHRONOUS",
        values.synchronous,
        "full",
        "`full`: a committed event survives power loss; `normal`: it survives a crash of "
        "flowtrack, not of the machine (faster on slow disks).",
    )
    sqlite_checkpoints: Literal["commit", "background"] = setting(
        "SQLITE_CHECKPOINTS",
        values.checkpoints,
        "commit",
        "Who copies SQLite's write-ahead log back into the database. `commit`: SQLite itself, "
        "inside a commit every 1,000 pages. `background`: a checkpointer thread, so commits "
        "never wait for it — more events/s (+16 % empty, +34 % with a million stored, see "
        "[docs/performance.md](docs/performance.md#optional-background-sqlite-checkpoints)), "
        "but with a million stored its p99 was 76 ms against 27 ms, "
        "and the `-wal` file grows to 100 to 160 MB under sustained load.",
    )
    sqlite_busy_timeout_ms: int = setting(
        "SQLITE_BUSY_TIMEOUT_MS",
        values.positive_int,
        "5000",
        "How long SQLite waits for a lock before the request gets a 503.",
    )
    callback_tokens: tuple[str, ...] = setting(
        "CALLBACK_TOKENS",
        values.tokens,
        "",
        "Comma-separated static tokens accepted on the callback endpoint (16+ characters "
        "each). Several may be active while rotating.",
        secret=True,
    )
    webhook_secrets: tuple[WebhookSecret, ...] = setting(
        "WEBHOOK_SECRETS",
        values.webhook_secrets,
        "",
        "Comma-separated Standard Webhooks secrets, `whsec_<base64>` (16+ bytes each).",
        secret=True,
    )
    webhook_tolerance_seconds: int = setting(
        "WEBHOOK_TOLERANCE_SECONDS",
        values.positive_int,
        "300",
        "Accepted clock difference for `webhook-timestamp`.",
    )
    insecure_callbacks: bool = setting(
        "INSECURE_CALLBACKS",
        values.flag,
        "0",
        "`1` accepts unauthenticated callbacks when no token or secret is set (development "
        "only). Without it, the server refuses to start with neither configured.",
    )
    api_keys: tuple[ApiKey, ...] = setting(
        "API_KEYS",
        values.api_keys,
        "",
        "Comma-separated read-write API keys (16+ characters), each `name:KEY` or a bare "
        "`KEY`; the audit records the name (a bare key's is `key-` and 8 hex digits of "
        "its SHA-256).",
        secret=True,
    )
    api_read_keys: tuple[ApiKey, ...] = setting(
        "API_READ_KEYS",
        values.api_keys,
        "",
        "Comma-separated read-only API keys, named like `FLOWTRACK_API_KEYS`.",
        secret=True,
    )
    insecure_api: bool = setting(
        "INSECURE_API",
        values.flag,
        "0",
        "`1` serves the API without keys when none is set (development only). Without it, "
        "the server refuses to start with no key configured.",
    )
    metrics_public: bool = setting(
        "METRICS_PUBLIC",
        values.flag,
        "0",
        "`1` serves `GET /metrics` without a key (for a Prometheus that cannot send a "
        "bearer token); otherwise it needs a read key.",
    )
    max_body_bytes: int = setting(
        "MAX_BODY_BYTES",
        values.positive_int,
        str(1024 * 1024),
        "Largest accepted callback body (413 beyond).",
    )
    writer_max_batch_events: int = setting(
        "WRITER_MAX_BATCH_EVENTS",
        values.positive_int,
        "5000",
        "Most events the writer commits in one transaction.",
    )
    genesys: GenesysConfig | None = setting_group(
        genesys_config,
        Setting(
            "GENESYS_CLIENT_ID",
            values.text,
            "",
            "OAuth client (client credentials grant) flowtrack launches flows with. Without "
            "it flowtrack only receives (launching answers 503).",
        ),
        Setting(
            "GENESYS_CLIENT_SECRET", values.text, "", "The OAuth client's secret.", secret=True
        ),
        Setting(
            "GENESYS_REGION",
            region,
            DEFAULT_REGION,
            "The org's region domain (`usw2.pure.cloud`, `mypurecloud.de`, …) or name "
            "(`us-west-2`, `eu_central_1`): API at `https://api.{domain}`, token at "
            "`https://login.{domain}/oauth/token`.",
        ),
        Setting(
            "GENESYS_API_URL",
            values.optional_url,
            "",
            "Explicit API base URL instead of a region, together with "
            "`FLOWTRACK_GENESYS_LOGIN_URL`, e.g. the sandbox's `http://127.0.0.1:8010`.",
        ),
        Setting(
            "GENESYS_LOGIN_URL",
            values.optional_url,
            "",
            "Explicit login base URL instead of a region, together with "
            "`FLOWTRACK_GENESYS_API_URL`.",
        ),
        Setting(
            "GENESYS_RATE_LIMIT_PER_MINUTE",
            values.positive_int,
            "300",
            "Client-side limit on Platform API requests (the default per-client limit of Genesys).",
        ),
    )
    launch_id_input_key: str = setting(
        "LAUNCH_ID_INPUT_KEY",
        values.identifier,
        "flowtrackLaunchId",
        "The `inputData` key flowtrack adds to every launch with its launch id, so flows can "
        "echo it as `launchId`. It must be an input variable of the flow.",
    )
    launch_timeout_seconds: int = setting(
        "LAUNCH_TIMEOUT_SECONDS",
        values.positive_int,
        "3600",
        "Deadline of a launch that does not set `timeoutSeconds`.",
    )
    flow_timeouts: Mapping[str, int] = setting(
        "FLOW_TIMEOUTS",
        values.flow_timeouts,
        "",
        "Per-flow default deadlines, `flowId=seconds,flowId=seconds`, used when a launch sets "
        "no `timeoutSeconds`.",
    )
    idle_timeout_seconds: int | None = setting(
        "IDLE_TIMEOUT_SECONDS",
        values.optional_positive_int,
        "",
        "Default idle limit (no event for this long) for launches that set no "
        "`idleTimeoutSeconds`.",
    )
    actions: ActionsConfig = setting_group(actions_config, *ACTIONS_SETTINGS)
    sweep_enabled: bool = setting(
        "SWEEP_ENABLED",
        values.flag,
        "1",
        "`0` switches this process's sweep off (e.g. on replicas that only ingest).",
    )
    sweep_interval_seconds: float = setting(
        "SWEEP_INTERVAL", values.positive_float, "10", "Seconds between sweeps."
    )
    sweep_batch_size: int = setting(
        "SWEEP_BATCH_SIZE", values.positive_int, "100", "Most launches one sweep claims."
    )
    sweep_claim_seconds: int = setting(
        "SWEEP_CLAIM_SECONDS",
        values.positive_int,
        "120",
        "How long a claim holds; a claim of a process that died expires after it.",
    )
    sweep_confirm_seconds: float = setting(
        "SWEEP_CONFIRM_SECONDS",
        values.positive_float,
        "2",
        "How soon after a disconnect request the sweep checks that the conversation ended.",
    )
    termination_max_attempts: int = setting(
        "TERMINATION_MAX_ATTEMPTS",
        values.positive_int,
        "5",
        "Failed attempts (platform errors, a conversation that stays up) before a launch "
        "shows `termination_failed`.",
    )
    retention_days: int | None = setting(
        "RETENTION_DAYS",
        values.optional_positive_int,
        "",
        "Delete events, finished launches and dead letters older than this many days (see "
        "[docs/retention.md](docs/retention.md)). Unset: keep them forever.",
    )
    retention_batch_size: int = setting(
        "RETENTION_BATCH_SIZE",
        values.positive_int,
        "1000",
        "Most rows one retention batch deletes, each batch in its own short transaction.",
    )
    retention_interval_seconds: float = setting(
        "RETENTION_INTERVAL",
        values.positive_float,
        "3600",
        "Seconds between retention runs; a run stops after half of it and the next one continues.",
    )
    public_url: str | None = setting(
        "PUBLIC_URL",
        values.optional_url,
        "",
        "Where Genesys reaches flowtrack (`https://flowtrack.example.com`); registration "
        "points the data action at `{PUBLIC_URL}/webhooks/genesys`.",
    )
    register_on_start: bool = setting(
        "REGISTER_ON_START",
        values.flag,
        "0",
        "`1`: `flowtrack serve` registers flowtrack with Genesys as it starts (in the "
        "background; failures are logged, never fatal).",
    )
    console: ConsoleConfig = setting_group(console_config, *CONSOLE_SETTINGS)
    tracking: TrackingConfig = setting_group(tracking_config, *TRACKING_SETTINGS)
    rollups: RollupsConfig = setting_group(rollups_config, *ROLLUPS_SETTINGS)
    webhooks: WebhooksConfig = setting_group(webhooks_config, *WEBHOOKS_SETTINGS)
    log_level: str = setting(
        "LOG_LEVEL",
        values.choice("DEBUG", "INFO", "WARNING", "ERROR", upper=True),
        "INFO",
        "`DEBUG`, `INFO`, `WARNING`, `ERROR`.",
    )
    log_format: Literal["json", "text"] = setting(
        "LOG_FORMAT", values.log_format, "json", "`json` lines, or `text` for a terminal."
    )
    access_log: bool = setting(
        "ACCESS_LOG", values.flag, "0", "`1` logs every HTTP request (uvicorn's access log)."
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
        parsed = {
            each.name: each.metadata[DECLARATION].read(source, problems) for each in fields(cls)
        }
        settings = cls(**parsed)
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
        shared = {key.name for key in self.api_keys} & {key.name for key in self.api_read_keys}
        if shared:
            problems.append(
                "FLOWTRACK_API_KEYS and FLOWTRACK_API_READ_KEYS both name a key "
                + ", ".join(sorted(shared))
                + ": each name must stand for one key"
            )
