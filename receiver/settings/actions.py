"""The ``FLOWTRACK_ACTIONS_*`` variables: how data action runs are paced and kept.

Declared together in the one :class:`~receiver.settings.catalog.Settings` field they
build, ``actions`` (:class:`ActionsConfig`).
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from typing import Any

from receiver.settings import values
from receiver.settings.declaration import Setting


@dataclass(frozen=True)
class ActionsConfig:
    """How this process executes data action runs.

    The org's limits (50 concurrent executions, 2,500 per minute by default) are
    Genesys's; with several replicas, give each its share.
    """

    concurrency: int = 50
    per_minute: int = 2500
    poll_seconds: float = 1.0
    lease_seconds: float = 30.0
    contract_ttl_seconds: float = 300.0
    list_ttl_seconds: float = 30.0
    timeout_margin_seconds: float = 5.0
    cache_ttl: Mapping[str, int] = field(default_factory=dict)


def cache_ttls(raw: str) -> dict[str, int]:
    """``actionId=seconds`` pairs separated by commas."""
    ttls: dict[str, int] = {}
    for part in (p.strip() for p in raw.split(",") if p.strip()):
        action_id, sep, seconds = part.partition("=")
        if not sep or not action_id.strip():
            raise ValueError(f"expected actionId=seconds pairs separated by commas, got {part!r}")
        ttls[action_id.strip()] = values.positive_int(seconds)
    return ttls


def actions_config(
    values_: Mapping[str, Any], given: Set[str], problems: list[str]
) -> ActionsConfig:
    """The runs' settings (every variable has a default)."""
    return ActionsConfig(
        concurrency=values_["ACTIONS_CONCURRENCY"],
        per_minute=values_["ACTIONS_PER_MINUTE"],
        poll_seconds=values_["ACTIONS_POLL_SECONDS"],
        lease_seconds=values_["ACTIONS_LEASE_SECONDS"],
        contract_ttl_seconds=values_["ACTIONS_CONTRACT_TTL_SECONDS"],
        list_ttl_seconds=values_["ACTIONS_LIST_TTL_SECONDS"],
        timeout_margin_seconds=values_["ACTIONS_TIMEOUT_MARGIN_SECONDS"],
        cache_ttl=values_["ACTIONS_CACHE_TTL"],
    )


#: The declarations, in the order the README's table shows them.
SETTINGS: tuple[Setting[Any], ...] = (
    Setting(
        "ACTIONS_CONCURRENCY",
        values.positive_int,
        "50",
        "Most data action executions this process has in flight at once (Genesys's org "
        "default is 50; with several replicas, give each its share).",
    ),
    Setting(
        "ACTIONS_PER_MINUTE",
        values.positive_int,
        "2500",
        "Most data action executions this process starts in any 60 s (Genesys's org "
        "default is 2,500). Executions are Platform API calls too: "
        "`FLOWTRACK_GENESYS_RATE_LIMIT_PER_MINUTE` also applies.",
    ),
    Setting(
        "ACTIONS_POLL_SECONDS",
        values.positive_float,
        "1",
        "How often workers look for queued runs (runs queued by this process are picked "
        "up at once).",
    ),
    Setting(
        "ACTIONS_LEASE_SECONDS",
        values.positive_float,
        "30",
        "How long a worker's claim on a running run lasts without renewal (renewed every "
        "third of it). A running run whose lease ran out is `unknown` (its process died).",
    ),
    Setting(
        "ACTIONS_CONTRACT_TTL_SECONDS",
        values.positive_float,
        "300",
        "How long an action's contract is reused before it is read again (it is re-read at "
        "once when Genesys says an input does not match).",
    ),
    Setting(
        "ACTIONS_LIST_TTL_SECONDS",
        values.positive_float,
        "30",
        "How long `GET /api/v1/actions` reuses the list it read from Genesys.",
    ),
    Setting(
        "ACTIONS_TIMEOUT_MARGIN_SECONDS",
        values.positive_float,
        "5",
        "How much longer than an action's own `timeoutSeconds` flowtrack waits for "
        "Genesys's answer.",
    ),
    Setting(
        "ACTIONS_CACHE_TTL",
        cache_ttls,
        "",
        "Per-action result caching, `actionId=seconds,…`: runs of these actions that set "
        "no `cacheTtlSeconds` reuse a success that recent.",
    ),
)
