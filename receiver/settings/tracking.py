"""The ``FLOWTRACK_NOTIFICATION*`` and ``FLOWTRACK_HISTORY_PULL*`` variables: following
launched flows with no change to them (#18) — the notification bridge (push) and the
execution history download (pull).

They are declared together in the one :class:`~receiver.settings.catalog.Settings`
field they build, ``tracking``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Set
from dataclasses import dataclass
from typing import Any, Final

from receiver.settings.declaration import PREFIX, Setting
from receiver.settings.values import flag, positive_float, positive_int

#: Genesys documents 1,000 topics per channel and 20 channels per OAuth client.
MAX_TOPICS_PER_CHANNEL: Final = 1000
MAX_CHANNELS_PER_CLIENT: Final = 20
_FLOW_ID = re.compile(r"^[A-Za-z0-9-]{1,128}$")


@dataclass(frozen=True)
class TrackingConfig:
    """How the notification bridge runs; ``notifications`` False: it does not."""

    notifications: bool
    flows: tuple[str, ...]
    recent_days: float
    lease_seconds: float
    heartbeat_seconds: float
    refresh_seconds: float
    topics_per_channel: int
    max_channels: int
    history_pull: bool = False
    pull_interval_seconds: float = 60.0
    pull_calls_per_minute: int = 60
    pull_poll_seconds: float = 1.0


def flow_ids(raw: str) -> tuple[str, ...]:
    """Comma-separated flow ids."""
    ids = tuple(part.strip() for part in raw.split(",") if part.strip())
    for flow_id in ids:
        if not _FLOW_ID.match(flow_id):
            raise ValueError(f"expected comma-separated flow ids, got {flow_id!r}")
    return ids


def tracking_config(
    values: Mapping[str, Any], given: Set[str], problems: list[str]
) -> TrackingConfig:
    """The bridge's settings; the topic and channel budgets stay under Genesys's limits."""
    topics = values["NOTIFICATION_TOPICS_PER_CHANNEL"]
    if topics > MAX_TOPICS_PER_CHANNEL:
        problems.append(
            f"{PREFIX}NOTIFICATION_TOPICS_PER_CHANNEL: at most {MAX_TOPICS_PER_CHANNEL} "
            "(Genesys refuses more topics on one channel)"
        )
        topics = MAX_TOPICS_PER_CHANNEL
    channels = values["NOTIFICATION_MAX_CHANNELS"]
    if channels > MAX_CHANNELS_PER_CLIENT:
        problems.append(
            f"{PREFIX}NOTIFICATION_MAX_CHANNELS: at most {MAX_CHANNELS_PER_CLIENT} "
            "(a 21st channel evicts one of the OAuth client's others)"
        )
        channels = MAX_CHANNELS_PER_CLIENT
    return TrackingConfig(
        notifications=values["NOTIFICATIONS"],
        flows=values["NOTIFICATION_FLOWS"],
        recent_days=values["NOTIFICATION_RECENT_DAYS"],
        lease_seconds=values["NOTIFICATION_LEASE_SECONDS"],
        heartbeat_seconds=values["NOTIFICATION_HEARTBEAT_SECONDS"],
        refresh_seconds=values["NOTIFICATION_REFRESH_SECONDS"],
        topics_per_channel=topics,
        max_channels=channels,
        history_pull=values["HISTORY_PULL"],
        pull_interval_seconds=values["HISTORY_PULL_INTERVAL"],
        pull_calls_per_minute=values["HISTORY_PULL_CALLS_PER_MINUTE"],
        pull_poll_seconds=values["HISTORY_PULL_POLL_SECONDS"],
    )


SETTINGS: Final = (
    Setting(
        "NOTIFICATIONS",
        flag,
        "0",
        "`1`: one flowtrack process (a lease in the database) holds Genesys notification "
        "channels and stores every flow message they bring, like a callback "
        "(docs/tracking.md). Needs the Genesys client settings.",
    ),
    Setting(
        "NOTIFICATION_FLOWS",
        flow_ids,
        "",
        "Flow ids whose execution messages are followed even when flowtrack has not "
        "launched them recently (comma-separated).",
    ),
    Setting(
        "NOTIFICATION_RECENT_DAYS",
        positive_float,
        "10",
        "A flow launched within this many days keeps its `v2.flows.instances.flow` topic.",
    ),
    Setting(
        "NOTIFICATION_LEASE_SECONDS",
        positive_float,
        "20",
        "Lease of the channel holder: renewed every third of it; after a holder dies "
        "another replica takes over within this, plus one third.",
    ),
    Setting(
        "NOTIFICATION_HEARTBEAT_SECONDS",
        positive_float,
        "30",
        "Interval of Genesys's socket heartbeats; after 1.5 of them in silence flowtrack "
        "pings, and reconnects when the pong does not come within half of one.",
    ),
    Setting(
        "NOTIFICATION_REFRESH_SECONDS",
        positive_float,
        "5",
        "How often the holder compares its topics with the launches to follow.",
    ),
    Setting(
        "NOTIFICATION_TOPICS_PER_CHANNEL",
        positive_int,
        "900",
        "Topics put on one channel (Genesys allows 1,000; the rest is headroom).",
    ),
    Setting(
        "NOTIFICATION_MAX_CHANNELS",
        positive_int,
        "18",
        "Channels the holder opens at most (Genesys allows 20 per OAuth client); topics "
        "beyond them are logged (`bridge.budget_exceeded`) and not followed.",
    ),
    Setting(
        "HISTORY_PULL",
        flag,
        "0",
        "`1`: download the execution history of ended launches that have no node events "
        "(or ran during a gap in the push) from Genesys (docs/tracking.md). Needs the "
        "Genesys client settings and execution data switched on in the org.",
    ),
    Setting(
        "HISTORY_PULL_INTERVAL",
        positive_float,
        "60",
        "Seconds between two rounds of the history pull (one process at a time runs one).",
    ),
    Setting(
        "HISTORY_PULL_CALLS_PER_MINUTE",
        positive_int,
        "60",
        "Platform API calls the history pull may make per minute, out of "
        "`FLOWTRACK_GENESYS_RATE_LIMIT_PER_MINUTE`: the rest stays for launches and the sweep.",
    ),
    Setting(
        "HISTORY_PULL_POLL_SECONDS",
        positive_float,
        "1",
        "How often a download job's state is asked for until it is ready.",
    ),
)
