"""Which launches' execution history to download, and where each one stands.

A launch needs its history when no node event was stored for it, or it ran while the
notification push had a gap whose backfill is pending. Ended launches are looked for,
and so are running ones that have an execution id: Genesys lists a run only once it has
ended and its history is logged, so finding it is how a launch followed by nothing else
learns that it ended. Each is tried (with growing pauses) until it is ``pulled``, found
``ambiguous``, or past the platform's retention (``expired``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import Engine, and_, delete, exists, func, insert, not_, or_, select, update
from sqlalchemy.engine import Connection, RowMapping

from storage.engine import read_connection, write_transaction
from storage.gaps import PENDING as GAP_PENDING
from storage.gaps import PULLED as GAP_PULLED
from storage.gaps import gaps
from storage.store import Store
from storage.tables import Event, Launch
from storage.tables.tracking import HistoryPull
from storage.vocabulary import (
    COMPLETED,
    FAILED,
    NODE_KINDS,
    RUNNING,
    TERMINATED,
    TIMED_OUT,
)
from storage.vocabulary import (
    PENDING as LAUNCH_PENDING,
)

pulls = HistoryPull.__table__  # type: ignore[attr-defined]
launches = Launch.__table__  # type: ignore[attr-defined]
events = Event.__table__  # type: ignore[attr-defined]

#: Where a launch's history stands (``history_pulls.state``).
PENDING: Final = "pending"
PULLED: Final = "pulled"
AMBIGUOUS: Final = "ambiguous"
EXPIRED: Final = "expired"
PULL_STATES: Final = (PENDING, PULLED, AMBIGUOUS, EXPIRED)
#: Launch states whose execution ran and ended (a launch_failed one never ran).
_ENDED: Final = (COMPLETED, FAILED, TERMINATED, TIMED_OUT)
#: Launch states whose run may have a history: ended ones, and those still running.
_RAN: Final = (*_ENDED, LAUNCH_PENDING, RUNNING)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A launch whose history to look for."""

    launch_id: str
    flow_id: str
    flow_execution_id: str | None
    conversation_id: str | None
    created_at: datetime
    ended_at: datetime
    attempts: int


def candidates(engine: Engine, now: datetime, retention: timedelta, limit: int) -> list[Candidate]:
    """Launches within retention that need their history, oldest end first (a running
    launch's end is ``now``)."""
    has_node_events = exists().where(
        events.c.launch_id == launches.c.id, events.c.kind.in_(NODE_KINDS)
    )
    ended_at = func.coalesce(launches.c.ended_at, now)
    in_a_gap = exists().where(
        gaps.c.backfill == GAP_PENDING,
        gaps.c.started_at <= ended_at,
        or_(gaps.c.ended_at.is_(None), gaps.c.ended_at >= launches.c.created_at),
    )
    due = or_(pulls.c.launch_id.is_(None), and_(pulls.c.state == PENDING, pulls.c.next_at <= now))
    statement = (
        select(
            launches.c.id,
            launches.c.flow_id,
            launches.c.flow_execution_id,
            launches.c.conversation_id,
            launches.c.created_at,
            ended_at,
            func.coalesce(pulls.c.attempts, 0),
        )
        .select_from(launches.outerjoin(pulls, pulls.c.launch_id == launches.c.id))
        .where(
            launches.c.state.in_(_RAN),
            or_(launches.c.state.in_(_ENDED), launches.c.flow_execution_id.is_not(None)),
            launches.c.created_at >= now - retention,
            due,
            or_(not_(has_node_events), in_a_gap),
        )
        .order_by(ended_at, launches.c.id)
        .limit(limit)
    )
    with read_connection(engine) as connection:
        return [Candidate(*row) for row in connection.execute(statement)]


def expire(engine: Engine, now: datetime, retention: timedelta, limit: int) -> list[str]:
    """Mark launches past retention still without history ``expired``; their ids."""
    unsettled = or_(pulls.c.launch_id.is_(None), pulls.c.state == PENDING)
    statement = (
        select(launches.c.id)
        .select_from(launches.outerjoin(pulls, pulls.c.launch_id == launches.c.id))
        .where(
            launches.c.state.in_(_RAN),
            launches.c.created_at < now - retention,
            unsettled,
            not_(
                exists().where(events.c.launch_id == launches.c.id, events.c.kind.in_(NODE_KINDS))
            ),
        )
        .limit(limit)
    )
    with write_transaction(engine) as connection:
        expired = list(connection.execute(statement).scalars())
        for launch_id in expired:
            _mark(connection, launch_id, EXPIRED, now, detail="past the 10-day retention")
    return expired


def mark(
    engine: Engine,
    launch_id: str,
    state: str,
    now: datetime,
    *,
    instance_id: str | None = None,
    next_at: datetime | None = None,
    detail: str | None = None,
) -> None:
    """Record where ``launch_id``'s history stands (one more attempt)."""
    with write_transaction(engine) as connection:
        _mark(connection, launch_id, state, now, instance_id, next_at, detail)


def _mark(
    connection: Connection,
    launch_id: str,
    state: str,
    now: datetime,
    instance_id: str | None = None,
    next_at: datetime | None = None,
    detail: str | None = None,
) -> None:
    values = {
        "state": state,
        "instance_id": instance_id,
        "updated_at": now,
        "next_at": next_at,
        "detail": detail,
    }
    changed = connection.execute(
        update(pulls)
        .where(pulls.c.launch_id == launch_id)
        .values(attempts=pulls.c.attempts + 1, **values)
    )
    if changed.rowcount == 0:
        connection.execute(insert(pulls).values(launch_id=launch_id, attempts=1, **values))


def settle_gaps(engine: Engine) -> int:
    """Mark closed gaps ``pulled`` once no launch that ran in them still waits; how many."""
    waiting = exists().where(
        launches.c.created_at <= gaps.c.ended_at,
        or_(launches.c.ended_at.is_(None), launches.c.ended_at >= gaps.c.started_at),
        launches.c.state.in_(_ENDED) | launches.c.ended_at.is_(None),
        not_(
            exists().where(
                pulls.c.launch_id == launches.c.id, pulls.c.state.in_((PULLED, AMBIGUOUS, EXPIRED))
            )
        ),
    )
    with write_transaction(engine) as connection:
        done = connection.execute(
            update(gaps)
            .where(gaps.c.backfill == GAP_PENDING, gaps.c.ended_at.is_not(None), not_(waiting))
            .values(backfill=GAP_PULLED)
        )
    return int(done.rowcount)


def counts(engine: Engine) -> dict[str, int]:
    """Launches by history state (every state, 0 when none)."""
    statement = select(pulls.c.state, func.count()).group_by(pulls.c.state)
    with read_connection(engine) as connection:
        found = {state: int(n) for state, n in connection.execute(statement)}
    return {state: found.get(state, 0) for state in PULL_STATES}


def unresolved(engine: Engine, limit: int) -> Sequence[RowMapping]:
    """The latest launches given up on (``ambiguous``, ``expired``), newest first."""
    statement = (
        select(pulls)
        .where(pulls.c.state.in_((AMBIGUOUS, EXPIRED)))
        .order_by(pulls.c.updated_at.desc(), pulls.c.launch_id)
        .limit(limit)
    )
    with read_connection(engine) as connection:
        return connection.execute(statement).mappings().all()


def state_of(engine: Engine, launch_ids: Sequence[str]) -> dict[str, str]:
    """The history state of each launch that has one."""
    statement = select(pulls.c.launch_id, pulls.c.state).where(pulls.c.launch_id.in_(launch_ids))
    with read_connection(engine) as connection:
        return {launch_id: state for launch_id, state in connection.execute(statement)}


class HistoryPullStore(Store):
    """History pulls, for async callers."""

    async def candidates(self, now: datetime, retention: timedelta, limit: int) -> list[Candidate]:
        """See :func:`candidates`."""
        return await self._run(candidates, now, retention, limit)

    async def expire(self, now: datetime, retention: timedelta, limit: int) -> list[str]:
        """See :func:`expire`."""
        return await self._run(expire, now, retention, limit)

    async def mark(
        self,
        launch_id: str,
        state: str,
        now: datetime,
        *,
        instance_id: str | None = None,
        next_at: datetime | None = None,
        detail: str | None = None,
    ) -> None:
        """See :func:`mark`."""
        await self._run(
            mark, launch_id, state, now, instance_id=instance_id, next_at=next_at, detail=detail
        )

    async def settle_gaps(self) -> int:
        """See :func:`settle_gaps`."""
        return await self._run(settle_gaps)

    async def counts(self) -> dict[str, int]:
        """See :func:`counts`."""
        return await self._run(counts)

    async def unresolved(self, limit: int) -> Sequence[RowMapping]:
        """See :func:`unresolved`."""
        return await self._run(unresolved, limit)

    async def state_of(self, launch_ids: Sequence[str]) -> dict[str, str]:
        """See :func:`state_of`."""
        return await self._run(state_of, launch_ids)


def delete_old_pulls(engine: Engine, *, cutoff: datetime, limit: int) -> int:
    """Delete up to ``limit`` history states last changed before ``cutoff`` (retention:
    their launches are past the platform's 10 days, and soon gone themselves)."""
    doomed = select(pulls.c.launch_id).where(pulls.c.updated_at < cutoff).limit(limit)
    with write_transaction(engine) as connection:
        result = connection.execute(delete(pulls).where(pulls.c.launch_id.in_(doomed)))
    return int(result.rowcount)
