"""Launches: recording them, reading them, and what flowtrack itself says about them.

A launch is recorded ``pending`` before the platform is called; flowtrack then marks it
launched (``running``) or ``launch_failed``. Everything else about its state is derived
from its events (storage.tracking). :class:`LaunchStore` is the async face of both.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.engine import RowMapping

from storage import outbox
from storage.engine import is_sqlite, read_connection, write_transaction
from storage.errors import DuplicateKey
from storage.launch_reads import (
    LaunchFilter,
    count_by_state,
    history_pull,
    list_launches,
    overdue,
)
from storage.store import Store
from storage.tables import Event, Launch
from storage.tables.tracking import HistoryPull
from storage.tracking import refresh
from storage.vocabulary import (
    COMPLETED,
    FAILED,
    LAUNCH_FAILED,
    NODE_KINDS,
    PENDING,
    RUNNING,
    STATES,
    TERMINAL_STATES,
    TERMINATED,
    TERMINATION_FAILED,
    TIMED_OUT,
)
from storage.vocabulary import FLOWTRACK as OWN_SOURCE

# The states and OWN_SOURCE are storage.vocabulary's, importable from here too.
__all__ = [
    "COMPLETED",
    "FAILED",
    "LAUNCH_FAILED",
    "OWN_SOURCE",
    "PENDING",
    "RUNNING",
    "STATES",
    "TERMINAL_STATES",
    "TERMINATED",
    "TERMINATION_FAILED",
    "TIMED_OUT",
    "LaunchFilter",
    "LaunchStore",
    "LaunchSummary",
    "NewLaunch",
    "count_by_state",
    "event_summary",
    "events",
    "get_launch",
    "history_pull",
    "insert_launch",
    "launch_summary",
    "launches",
    "list_launches",
    "mark_launch_failed",
    "mark_launched",
    "note_reason",
    "overdue",
    "refresh",
    "set_conversation",
]

launches = Launch.__table__  # type: ignore[attr-defined]
events = Event.__table__  # type: ignore[attr-defined]
pulls = HistoryPull.__table__  # type: ignore[attr-defined]
#: Where the launch's execution history stands, read with it (``history_pulls``; all
#: None when the pull never looked for it).
HISTORY_COLUMNS = {
    "history_state": pulls.c.state,
    "history_detail": pulls.c.detail,
    "history_attempts": pulls.c.attempts,
    "history_updated_at": pulls.c.updated_at,
    "history_instance_id": pulls.c.instance_id,
}


@dataclass(frozen=True)
class NewLaunch:
    """What a launch request asked for, before the platform is called."""

    id: str
    flow_id: str
    flow_version: str | None
    name: str | None
    input_data: str | None
    idempotency_key: str | None
    timeout_seconds: int | None
    idle_timeout_seconds: int | None
    created_at: datetime
    deadline_at: datetime | None
    #: A digest of the request: a known idempotency key with another one is refused.
    request_fingerprint: str | None = None


def insert_launch(engine: Engine, new: NewLaunch) -> tuple[RowMapping, bool]:
    """Record a launch; with a known idempotency key, return the original instead.

    Returns the stored row and whether it was created by this call.
    """
    due = new.deadline_at
    if new.idle_timeout_seconds is not None:
        idle_due = new.created_at + timedelta(seconds=new.idle_timeout_seconds)
        due = idle_due if due is None else min(due, idle_due)
    values = {**new.__dict__, "state": PENDING, "updated_at": new.created_at, "due_at": due}
    try:
        with write_transaction(engine) as connection:
            connection.execute(insert(launches).values(**values))
    except DuplicateKey:
        if new.idempotency_key is None:
            raise
        existing = _one(engine, launches.c.idempotency_key == new.idempotency_key)
        if existing is None:  # the conflicting row vanished (retention): try once more
            raise
        return existing, False
    created = get_launch(engine, new.id)
    assert created is not None
    return created, True


def get_launch(engine: Engine, launch_id: str) -> RowMapping | None:
    """One launch by id."""
    return _one(engine, launches.c.id == launch_id)


@dataclass(frozen=True)
class LaunchSummary:
    """A launch, its event counts by kind and its latest event, read at one moment.

    ``row`` also holds where its execution history stands (:data:`HISTORY_COLUMNS`).
    ``row``'s ``current_node_*`` and ``last_event_at`` are derived from the same events
    as the counts, as the tracker derives them (storage.tracking), so a summary never
    shows a node event counted while the launch seems to be at no node yet.
    """

    row: dict[str, Any]
    event_counts: dict[str, int]
    last_event: RowMapping | None


def launch_summary(engine: Engine, launch_id: str) -> LaunchSummary | None:
    """The launch and its events' summary from one snapshot (None: no such launch)."""
    with read_connection(engine) as connection:
        if not is_sqlite(engine):
            # Each PostgreSQL statement otherwise reads its own snapshot; SQLite's BEGIN
            # already holds one for the whole transaction.
            connection.execution_options(isolation_level="REPEATABLE READ")
        found = connection.execute(
            select(launches, *(column.label(name) for name, column in HISTORY_COLUMNS.items()))
            .select_from(launches.outerjoin(pulls, pulls.c.launch_id == launches.c.id))
            .where(launches.c.id == launch_id)
        )
        launch = found.mappings().first()
        if launch is None:
            return None
        counts, last = _event_summary(connection, launch_id)
        mine = events.c.launch_id == launch_id
        node = connection.execute(
            select(events.c.node_id, events.c.node_name)
            .where(mine, events.c.kind.in_(NODE_KINDS))
            .order_by(events.c.occurred_at.desc(), events.c.id.desc())
            .limit(1)
        ).first()
        received = connection.execute(select(func.max(events.c.received_at)).where(mine))
        last_received = received.scalar()
    row = dict(launch)
    if last_received is not None:
        row["last_event_at"] = last_received
    if node is not None and node.node_id is not None:
        row["current_node_id"], row["current_node_name"] = node.node_id, node.node_name
    return LaunchSummary(row, counts, last)


def event_summary(engine: Engine, launch_id: str) -> tuple[dict[str, int], RowMapping | None]:
    """Event counts by kind, and the latest event (history order) of a launch."""
    with read_connection(engine) as connection:
        return _event_summary(connection, launch_id)


def _event_summary(
    connection: Connection, launch_id: str
) -> tuple[dict[str, int], RowMapping | None]:
    counts: dict[Any, Any] = dict(
        connection.execute(
            select(events.c.kind, func.count())
            .where(events.c.launch_id == launch_id)
            .group_by(events.c.kind)
        ).all()
    )
    last = (
        connection.execute(
            select(events)
            .where(events.c.launch_id == launch_id)
            .order_by(events.c.occurred_at.desc(), events.c.id.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    return {str(kind): int(count) for kind, count in counts.items()}, last


def mark_launched(engine: Engine, launch_id: str, execution_id: str, now: datetime) -> None:
    """The platform started the execution: remember its id; the launch is running."""
    with write_transaction(engine) as connection:
        connection.execute(
            update(launches)
            .where(launches.c.id == launch_id)
            .values(flow_execution_id=execution_id, updated_at=now)
        )
        connection.execute(
            update(launches)
            .where(launches.c.id == launch_id, launches.c.state == PENDING)
            .values(state=RUNNING, state_reason=None)
        )


def mark_launch_failed(
    engine: Engine, launch_id: str, code: str | None, reason: str, now: datetime
) -> None:
    """The platform refused the launch; it stays visible with the reason."""
    with write_transaction(engine) as connection:
        failed = connection.execute(
            update(launches)
            .where(launches.c.id == launch_id, launches.c.state == PENDING)
            .values(
                state=LAUNCH_FAILED,
                error_code=code,
                state_reason=reason,
                updated_at=now,
                ended_at=now,
                due_at=None,
            )
        )
        if failed.rowcount:  # the webhook outbox, in the same transaction
            row = connection.execute(select(launches).where(launches.c.id == launch_id))
            outbox.launch_ended(connection, row.mappings().one(), now)


def note_reason(engine: Engine, launch_id: str, reason: str, now: datetime) -> None:
    """Record why a launch is where it is without changing its state."""
    with write_transaction(engine) as connection:
        connection.execute(
            update(launches)
            .where(launches.c.id == launch_id)
            .values(state_reason=reason, updated_at=now)
        )


def set_conversation(engine: Engine, launch_id: str, conversation_id: str, now: datetime) -> bool:
    """Remember the conversation a launch runs in (once); True when it was new."""
    with write_transaction(engine) as connection:
        result = connection.execute(
            update(launches)
            .where(launches.c.id == launch_id, launches.c.conversation_id.is_(None))
            .values(conversation_id=conversation_id, updated_at=now)
        )
    return bool(result.rowcount)


def _one(engine: Engine, condition: Any) -> RowMapping | None:
    with read_connection(engine) as connection:
        return connection.execute(select(launches).where(condition)).mappings().first()


class LaunchStore(Store):
    """The launches, for async callers: each method runs its query in a worker thread."""

    async def insert(self, new: NewLaunch) -> tuple[RowMapping, bool]:
        """Record a launch (see :func:`insert_launch`): the stored row, and whether new."""
        return await self._run(insert_launch, new)

    async def get(self, launch_id: str) -> RowMapping | None:
        """One launch by id."""
        return await self._run(get_launch, launch_id)

    async def summary(self, launch_id: str) -> LaunchSummary | None:
        """The launch and its events' summary from one snapshot (None: no such launch)."""
        return await self._run(launch_summary, launch_id)

    async def event_summary(self, launch_id: str) -> tuple[dict[str, int], RowMapping | None]:
        """Event counts by kind, and the latest event (history order) of a launch."""
        return await self._run(event_summary, launch_id)

    async def mark_launched(self, launch_id: str, execution_id: str, now: datetime) -> None:
        """The platform started the execution: remember its id; the launch is running."""
        await self._run(mark_launched, launch_id, execution_id, now)

    async def mark_launch_failed(
        self, launch_id: str, code: str | None, reason: str, now: datetime
    ) -> None:
        """The platform refused the launch; it stays visible with the reason."""
        await self._run(mark_launch_failed, launch_id, code, reason, now)

    async def note_reason(self, launch_id: str, reason: str, now: datetime) -> None:
        """Record why a launch is where it is without changing its state."""
        await self._run(note_reason, launch_id, reason, now)

    async def set_conversation(self, launch_id: str, conversation_id: str, now: datetime) -> bool:
        """Remember the conversation a launch runs in (once); True when it was new."""
        return await self._run(set_conversation, launch_id, conversation_id, now)

    async def refresh(
        self,
        *,
        launch_ids: Iterable[str] = (),
        execution_ids: Iterable[str] = (),
        conversation_ids: Iterable[str] = (),
        now: datetime,
    ) -> list[str]:
        """Attribute events to the launches these keys name and move their state forward
        (storage.tracking.refresh); the ids of the launches looked at."""
        return await self._run(
            refresh,
            launch_ids=launch_ids,
            execution_ids=execution_ids,
            conversation_ids=conversation_ids,
            now=now,
        )

    async def count_by_state(self) -> dict[str, int]:
        """Launches by state now, every state named (see :func:`count_by_state`)."""
        return await self._run(count_by_state)

    async def overdue(self, now: datetime, limit: int) -> Sequence[RowMapping]:
        """Unfinished launches the sweep should have ended by now (see :func:`overdue`)."""
        return await self._run(overdue, now, limit)

    async def history_pull(self, launch_id: str) -> RowMapping | None:
        """Where the launch's execution history pull stands (None: never looked for)."""
        return await self._run(history_pull, launch_id)

    # Last: in the class body after it, ``list`` names this method.
    async def list(
        self, where: LaunchFilter, *, after: tuple[datetime, str] | None = None, limit: int = 100
    ) -> Sequence[RowMapping]:
        """Launches, newest first, older than the cursor position."""
        return await self._run(list_launches, where, after=after, limit=limit)
