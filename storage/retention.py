"""Retention: deleting what is older than the retention period, one small batch at a time.

With ``cutoff`` = now minus the period, what goes:

- **events** whose ``occurred_at`` is before the cutoff — the time history is ordered
  and filtered by, and the one already indexed (``ix_events_occurred_at``), so finding
  old events costs no extra index on the ingest path. Never events of a launch that has
  not finished (``pending``, ``running``, ``termination_failed``): neither those
  attributed to it nor, while still unattributed, those carrying its execution or
  conversation id;
- **finished launches** (a terminal state) whose ``updated_at`` and ``ended_at`` are
  both before the cutoff — except one still told to stop (``stop_requested_at`` after
  ``keep_stopped_since``): its flow may call back and must still be answered ``stop``;
- **dead letters** received before the cutoff;
- **audit records** made before the cutoff;
- **data action runs** that ended before the cutoff (storage.action_runs).
- **webhook messages** delivered or failed, made before the cutoff, with their attempts
  (storage.webhooks); pending ones are kept.
- **tracking**: push gaps that ended, and launches' history states last changed, before
  the cutoff (storage.gaps, storage.history_pulls).

Each call deletes at most one batch in its own short transaction, so the ingest writer
(SQLite: one write lock) waits at most one batch. On PostgreSQL the batch is chosen
with ``FOR UPDATE SKIP LOCKED``: rows another transaction holds (the tracker updating a
launch, a second replica's retention) are left for later instead of waited for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, delete, exists, or_, select, tuple_

from storage.action_runs import delete_old_runs
from storage.engine import read_connection, write_transaction
from storage.gaps import delete_old_gaps
from storage.history_pulls import delete_old_pulls
from storage.store import Store
from storage.tables import AuditRecord, DeadLetter, Event, Launch
from storage.vocabulary import TERMINAL_STATES, UNFINISHED_STATES
from storage.webhooks import delete_finished as delete_finished_webhook_messages

events = Event.__table__  # type: ignore[attr-defined]
launches = Launch.__table__  # type: ignore[attr-defined]
dead_letters = DeadLetter.__table__  # type: ignore[attr-defined]
audit = AuditRecord.__table__  # type: ignore[attr-defined]

#: Where an events pass stands: the (occurred_at, id) of the last event it looked at.
Position = tuple[datetime, int]


@dataclass(frozen=True)
class EventBatch:
    """What one events batch did; ``after`` is where the next one starts (None: done)."""

    deleted: int
    after: Position | None


def delete_old_events(
    engine: Engine, *, cutoff: datetime, after: Position | None, limit: int
) -> EventBatch:
    """Delete the old events among the next ``limit`` in history order after ``after``.

    The batch is a window of the ``occurred_at`` index, so events that must be kept
    (their launch is unfinished) are stepped over once, not read again by every batch.
    """
    older = events.c.occurred_at < cutoff
    position = tuple_(events.c.occurred_at, events.c.id)
    if after is not None:
        older = and_(older, position > tuple_(*after))
    # The window's last event: reading it walks the index only as far as one batch.
    with read_connection(engine) as connection:
        last = connection.execute(
            select(events.c.occurred_at, events.c.id)
            .where(older)
            .order_by(events.c.occurred_at, events.c.id)
            .offset(limit - 1)
            .limit(1)
        ).first()
    window = older if last is None else and_(older, position <= tuple_(last[0], last[1]))
    doomed = _lockable(select(events.c.id).where(window, *_not_of_unfinished_launch()), engine)
    with write_transaction(engine) as connection:
        deleted = connection.execute(delete(events).where(events.c.id.in_(doomed))).rowcount
    return EventBatch(deleted, None if last is None else (last[0], last[1]))


def delete_finished_launches(
    engine: Engine,
    *,
    cutoff: datetime,
    now: datetime,
    keep_stopped_since: datetime,
    limit: int,
) -> int:
    """Delete up to ``limit`` finished launches last touched before ``cutoff``."""
    doomed = (
        select(launches.c.id)
        .where(
            launches.c.state.in_(sorted(TERMINAL_STATES)),
            # created_at <= updated_at, and (state, created_at) is indexed.
            launches.c.created_at < cutoff,
            launches.c.updated_at < cutoff,
            or_(launches.c.ended_at.is_(None), launches.c.ended_at < cutoff),
            or_(
                launches.c.stop_requested_at.is_(None),
                launches.c.stop_requested_at < keep_stopped_since,
            ),
            # A sweep holding a claim is still acting on it.
            or_(launches.c.claimed_until.is_(None), launches.c.claimed_until < now),
        )
        .limit(limit)
    )
    with write_transaction(engine) as connection:
        result = connection.execute(
            delete(launches).where(launches.c.id.in_(_lockable(doomed, engine)))
        )
    return int(result.rowcount)


def delete_old_dead_letters(engine: Engine, *, cutoff: datetime, limit: int) -> int:
    """Delete up to ``limit`` dead letters received before ``cutoff``."""
    doomed = select(dead_letters.c.id).where(dead_letters.c.received_at < cutoff).limit(limit)
    with write_transaction(engine) as connection:
        result = connection.execute(
            delete(dead_letters).where(dead_letters.c.id.in_(_lockable(doomed, engine)))
        )
    return int(result.rowcount)


def delete_old_audit(engine: Engine, *, cutoff: datetime, limit: int) -> int:
    """Delete up to ``limit`` audit records made before ``cutoff``."""
    doomed = select(audit.c.id).where(audit.c.at < cutoff).order_by(audit.c.at).limit(limit)
    with write_transaction(engine) as connection:
        result = connection.execute(delete(audit).where(audit.c.id.in_(_lockable(doomed, engine))))
    return int(result.rowcount)


def _not_of_unfinished_launch() -> list[Any]:
    def unfinished(*match: Any) -> Any:
        return exists().where(launches.c.state.in_(UNFINISHED_STATES), *match)

    unattributed = events.c.launch_id.is_(None)
    return [
        or_(
            unattributed,
            ~unfinished(launches.c.id == events.c.launch_id),
        ),
        # Not attributed yet: it will be, to the launch with its execution or conversation.
        or_(
            ~unattributed,
            events.c.flow_execution_id.is_(None),
            ~unfinished(launches.c.flow_execution_id == events.c.flow_execution_id),
        ),
        or_(
            ~unattributed,
            events.c.conversation_id.is_(None),
            ~unfinished(launches.c.conversation_id == events.c.conversation_id),
        ),
    ]


def _lockable(statement: Any, engine: Engine) -> Any:
    if engine.dialect.name == "postgresql":
        return statement.with_for_update(skip_locked=True)
    return statement


class RetentionStore(Store):
    """Retention's deletions, for async callers: each one batch, in a worker thread."""

    async def delete_old_events(
        self, *, cutoff: datetime, after: Position | None, limit: int
    ) -> EventBatch:
        """Delete the old events among the next ``limit`` in history order after ``after``."""
        return await self._run(delete_old_events, cutoff=cutoff, after=after, limit=limit)

    async def delete_finished_launches(
        self, *, cutoff: datetime, now: datetime, keep_stopped_since: datetime, limit: int
    ) -> int:
        """Delete up to ``limit`` finished launches last touched before ``cutoff``."""
        return await self._run(
            delete_finished_launches,
            cutoff=cutoff,
            now=now,
            keep_stopped_since=keep_stopped_since,
            limit=limit,
        )

    async def delete_old_dead_letters(self, *, cutoff: datetime, limit: int) -> int:
        """Delete up to ``limit`` dead letters received before ``cutoff``."""
        return await self._run(delete_old_dead_letters, cutoff=cutoff, limit=limit)

    async def delete_old_audit(self, *, cutoff: datetime, limit: int) -> int:
        """Delete up to ``limit`` audit records made before ``cutoff``."""
        return await self._run(delete_old_audit, cutoff=cutoff, limit=limit)

    async def delete_old_action_runs(self, *, cutoff: datetime, limit: int) -> int:
        """Delete up to ``limit`` data action runs that ended before ``cutoff``."""
        return await self._run(delete_old_runs, cutoff=cutoff, limit=limit)

    async def delete_old_tracking(self, *, cutoff: datetime, limit: int) -> int:
        """Delete up to ``limit`` push gaps ended, and then history states changed, before
        ``cutoff`` (storage.gaps, storage.history_pulls)."""
        deleted = await self._run(delete_old_gaps, cutoff=cutoff, limit=limit)
        if deleted < limit:
            deleted += await self._run(delete_old_pulls, cutoff=cutoff, limit=limit - deleted)
        return deleted

    async def delete_finished_webhook_messages(self, *, cutoff: datetime, limit: int) -> int:
        """Delete up to ``limit`` delivered or failed webhook messages made before ``cutoff``,
        with their attempts (pending ones are kept)."""
        return await self._run(delete_finished_webhook_messages, cutoff=cutoff, limit=limit)
