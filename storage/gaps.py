"""Gaps in the notification push: intervals in which no healthy socket listened.

The notification service keeps nothing for a socket that is down, so every such
interval is recorded, with what became of its backfill (``storage.tables.tracking``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.engine import RowMapping

from storage.engine import read_connection, write_transaction
from storage.store import Store
from storage.tables.tracking import TrackingGap

gaps = TrackingGap.__table__  # type: ignore[attr-defined]

#: What became of a gap's window (``tracking_gaps.backfill``).
PENDING: Final = "pending"
PULLED: Final = "pulled"
NO_PULL: Final = "no_pull"
BACKFILLS: Final = (PENDING, PULLED, NO_PULL)


def open_gap(engine: Engine, started_at: datetime, reason: str, holder: str) -> int:
    """Record a gap that began at ``started_at``; returns its id."""
    with write_transaction(engine) as connection:
        result = connection.execute(
            insert(gaps)
            .values(started_at=started_at, reason=reason, holder=holder, backfill=PENDING)
            .returning(gaps.c.id)
        )
        return int(result.scalar_one())


def close_gap(engine: Engine, gap_id: int, ended_at: datetime, backfill: str) -> None:
    """The gap ended at ``ended_at``; ``backfill`` says what comes of its window."""
    with write_transaction(engine) as connection:
        connection.execute(
            update(gaps).where(gaps.c.id == gap_id).values(ended_at=ended_at, backfill=backfill)
        )


def recent_gaps(engine: Engine, limit: int) -> Sequence[RowMapping]:
    """The latest gaps, newest first."""
    statement = select(gaps).order_by(gaps.c.started_at.desc(), gaps.c.id.desc()).limit(limit)
    with read_connection(engine) as connection:
        return connection.execute(statement).mappings().all()


class GapStore(Store):
    """Gaps, for async callers."""

    async def open(self, started_at: datetime, reason: str, holder: str) -> int:
        """Record a gap (see :func:`open_gap`)."""
        return await self._run(open_gap, started_at, reason, holder)

    async def close(self, gap_id: int, ended_at: datetime, backfill: str) -> None:
        """End a gap (see :func:`close_gap`)."""
        await self._run(close_gap, gap_id, ended_at, backfill)

    async def recent(self, limit: int = 20) -> Sequence[RowMapping]:
        """The latest gaps (see :func:`recent_gaps`)."""
        return await self._run(recent_gaps, limit)


def delete_old_gaps(engine: Engine, *, cutoff: datetime, limit: int) -> int:
    """Delete up to ``limit`` gaps that ended before ``cutoff`` (retention)."""
    doomed = select(gaps.c.id).where(gaps.c.ended_at < cutoff).limit(limit)
    with write_transaction(engine) as connection:
        result = connection.execute(delete(gaps).where(gaps.c.id.in_(doomed)))
    return int(result.rowcount)
