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
    channel_lifetime_seconds: int = 86400
    org_id: str = SANDBOX_ORG_ID

    def __post_init__(self) -> None:
        positive = {
            "token_lifetime_seconds": self.token_lifetime_seconds,
            "rate_limit_per_minute": self.rate_limit_per_minute,
            "heartbeat_seconds": self.heartbeat_seconds,
            "channel_lifetime_seconds": self.channel_lifetime_seconds,
            "eventbridge_max_attempts": self.eventbridge_max_attempts,
        }
        for name, value in positive.items():
            if value <= 0:
                raise SandboxError(f"SandboxConfig.{name} must be positive, got {value!r}")
        if self.time_scale < 0 or self.disconnect_delay_seconds < 0:
            raise SandboxError("SandboxConfig time_scale and delays must not be negative")
