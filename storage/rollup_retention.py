"""The rollups' own retention, longer than the events': statistics outlive raw history.

:func:`prune_rollups` deletes hourly rows older than one cutoff and daily rows older
than another (the all-time rows stay), and forgets what a run or a launch added once
its events or row are past the events' retention: a late event of such a run then
counts as a run of its own, where recounting the run from what is left of it would
take back what the deleted events had added.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, and_, delete, exists, select

from storage.engine import write_transaction
from storage.rollup_merge import (
    DAILY,
    HOURLY,
    durations_table,
    edges_table,
    launches_table,
    nodes_table,
    paths_table,
)
from storage.tables import Launch
from storage.tables.rollups import RollupLaunchSeen, RollupRun

launches = Launch.__table__  # type: ignore[attr-defined]
seen = RollupLaunchSeen.__table__  # type: ignore[attr-defined]
runs = RollupRun.__table__  # type: ignore[attr-defined]
BUCKETED = (nodes_table, durations_table, edges_table, paths_table, launches_table)


@dataclass
class Pruned:
    """Rows one pass deleted."""

    hourly: int = 0
    daily: int = 0
    runs: int = 0
    launches: int = 0


def prune_rollups(
    engine: Engine,
    *,
    hourly_before: datetime,
    daily_before: datetime | None,
    events_before: datetime | None,
) -> Pruned:
    """Delete rollup rows older than their cutoffs (None: keep them)."""
    pruned = Pruned()
    with write_transaction(engine) as connection:
        for table in BUCKETED:
            hourly = and_(table.c.grain == HOURLY, table.c.bucket < hourly_before.timestamp())
            pruned.hourly += connection.execute(delete(table).where(hourly)).rowcount
            if daily_before is not None:
                daily = and_(table.c.grain == DAILY, table.c.bucket < daily_before.timestamp())
                pruned.daily += connection.execute(delete(table).where(daily)).rowcount
        if events_before is not None:
            pruned.runs = connection.execute(
                delete(runs).where(runs.c.last_at < events_before)
            ).rowcount
            gone = ~exists(select(launches.c.id).where(launches.c.id == seen.c.launch_id))
            pruned.launches = connection.execute(
                delete(seen).where(seen.c.created_at < events_before, gone)
            ).rowcount
    return pruned
