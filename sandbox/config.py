"""Configuration of one sandbox instance."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sandbox.errors import SandboxError
from sandbox.flows import FlowDefinition

#: The organisation id the sandbox pretends to belong to (EventBridge `source`, divisions).
SANDBOX_ORG_ID = "5a9b7c3d-0000-4000-8000-00000000f10e"


@dataclass(frozen=True)
class SandboxConfig:
    """Everything that shapes a sandbox: credentials, limits, flows, timing, outputs.

    ``flows`` takes parsed :class:`~sandbox.flows.FlowDefinition` objects or raw
    mappings in the flow-file format; ``None`` means the built-in sample flows.
    ``time_scale`` multiplies every node duration (``0.01`` makes a 2 s node take
    20 ms). ``public_base_url`` is the externally visible ``http(s)://host:port`` used
    to build ``connectUri``; when ``None`` it is taken from each request's Host.
    """

    client_id: str = "sandbox"
    client_secret: str = "sandbox"  # noqa: S105 - the documented sandbox default
    token_lifetime_seconds: int = 86400
    rate_limit_per_minute: int = 300
    seed: int | None = None
    flows: Sequence[FlowDefinition | Mapping[str, Any]] | None = None
    launch_id_input_key: str = "flowtrackLaunchId"
    time_scale: float = 1.0
    eventbridge_url: str | None = None
    public_base_url: str | None = None
    heartbeat_seconds: float = 30.0
    disconnect_delay_seconds: float = 0.25
    eventbridge_max_attempts: int = 5
    eventbridge_retry_seconds: float = 0.2
    channel_lifetime_seconds: float = 86400
    org_id: str = SANDBOX_ORG_ID
    #: Data actions (genesys-api.md §16.C.5): executions in flight and per minute, org-wide.
    action_concurrency_limit: int = 50
    action_executions_per_minute: int = 2500
    #: The sample actions and their stub service; None: only with the built-in flows.
    sample_actions: bool | None = None
    #: Serve an action's schemas only with ``expand=contract`` (else just the ``…Uri``s).
    contract_needs_expand: bool = False
    # Notification channels and execution history (docs/sandbox.md, "Push and pull"):
    #: After ``v2.system.socket_closing``, how long a second socket may join before the
    #: warned one is closed (the documented minute).
    socket_closing_grace_seconds: float = 60.0
    #: Granted permissions per OAuth client id; a client not named here has them all.
    permissions: Mapping[str, Sequence[str]] | None = None
    #: The org's execution-data setting; the built-in flows are published after it.
    execution_data: bool = True
    #: Delay between a run's end and its history being logged (pushed and queryable).
    execution_data_delay_seconds: float = 0.0
    #: Execution items a ``v2.flows.instances`` message carries before it is truncated.
    notification_max_items: int = 100
    #: How long a pre-signed execution-data download link stays valid.
    execution_data_download_ttl_seconds: int = 3600
    #: How long a run's execution data is kept after it ended (Genesys: 10 days).
    execution_data_retention_seconds: float = 10 * 86400

    def __post_init__(self) -> None:
        positive = {
            "token_lifetime_seconds": self.token_lifetime_seconds,
            "rate_limit_per_minute": self.rate_limit_per_minute,
            "heartbeat_seconds": self.heartbeat_seconds,
            "channel_lifetime_seconds": self.channel_lifetime_seconds,
            "eventbridge_max_attempts": self.eventbridge_max_attempts,
            "action_concurrency_limit": self.action_concurrency_limit,
            "action_executions_per_minute": self.action_executions_per_minute,
            "notification_max_items": self.notification_max_items,
            "execution_data_download_ttl_seconds": self.execution_data_download_ttl_seconds,
            "execution_data_retention_seconds": self.execution_data_retention_seconds,
        }
        for name, value in positive.items():
            if value <= 0:
                raise SandboxError(f"SandboxConfig.{name} must be positive, got {value!r}")
        delays = (self.socket_closing_grace_seconds, self.execution_data_delay_seconds)
        if min(delays) < 0:
            raise SandboxError("SandboxConfig grace and history delays must not be negative")
        if self.time_scale < 0 or self.disconnect_delay_seconds < 0:
            raise SandboxError("SandboxConfig time_scale and delays must not be negative")
