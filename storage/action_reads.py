"""Reading data action runs: lists with filters and cursors, and one action's statistics.

(Recording and ending runs is storage.action_runs.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, and_, func, or_, select
from sqlalchemy.engine import RowMapping

from storage.engine import read_connection
from storage.tables import ActionRun

runs = ActionRun.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class RunFilter:
    """Which runs to list; every given field must match (``since`` <= created < ``until``)."""

    action_id: str | None = None
    state: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class RunStats:
    """Runs of one action in a window: counts, latencies of executed runs, cache hits."""

    by_state: dict[str, int] = field(default_factory=dict)
    by_failure_reason: dict[str, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    cache_hits: int = 0


def list_runs(
    engine: Engine,
    where: RunFilter,
    *,
    after: tuple[datetime, str] | None = None,
    limit: int = 100,
) -> Sequence[RowMapping]:
    """Runs, newest first, older than the cursor position."""
    statement = select(runs)
    if where.action_id is not None:
        statement = statement.where(runs.c.action_id == where.action_id)
    if where.state is not None:
        statement = statement.where(runs.c.state == where.state)
    if where.since is not None:
        statement = statement.where(runs.c.created_at >= where.since)
    if where.until is not None:
        statement = statement.where(runs.c.created_at < where.until)
    if after is not None:
        at, run_id = after
        statement = statement.where(
            or_(runs.c.created_at < at, and_(runs.c.created_at == at, runs.c.id < run_id))
        )
    statement = statement.order_by(runs.c.created_at.desc(), runs.c.id.desc()).limit(limit)
    with read_connection(engine) as connection:
        return connection.execute(statement).mappings().all()


def run_stats(
    engine: Engine, action_id: str, since: datetime | None, until: datetime | None
) -> RunStats:
    """Counts by state and failure reason, executed runs' latencies, cache hits."""
    window = [runs.c.action_id == action_id]
    if since is not None:
        window.append(runs.c.created_at >= since)
    if until is not None:
        window.append(runs.c.created_at < until)
    stats = RunStats()
    with read_connection(engine) as connection:
        grouped = connection.execute(
            select(runs.c.state, runs.c.failure_reason, func.count())
            .where(*window)
            .group_by(runs.c.state, runs.c.failure_reason)
        )
        for state, reason, count in grouped:
            stats.by_state[state] = stats.by_state.get(state, 0) + count
            if reason is not None:
                stats.by_failure_reason[reason] = stats.by_failure_reason.get(reason, 0) + count
        stats.latencies_ms.extend(
            connection.execute(
                select(runs.c.latency_ms).where(
                    *window, runs.c.latency_ms.is_not(None), runs.c.cached_from.is_(None)
                )
            ).scalars()
        )
        hits = connection.execute(
            select(func.count()).where(*window, runs.c.cached_from.is_not(None))
        ).scalar()
    return RunStats(stats.by_state, stats.by_failure_reason, stats.latencies_ms, int(hits or 0))
