"""Read queries over stored events and dead letters; :class:`EventStore` runs them in threads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Select, select, tuple_
from sqlalchemy.engine import RowMapping

from storage.engine import read_connection
from storage.store import Store
from storage.tables import DeadLetter, Event

events = Event.__table__  # type: ignore[attr-defined]
dead_letters = DeadLetter.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class EventFilter:
    """Which events to list; every given field must match."""

    conversation_id: str | None = None
    flow_execution_id: str | None = None
    launch_id: str | None = None
    flow_id: str | None = None
    kind: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def list_events(
    engine: Engine,
    where: EventFilter,
    *,
    after: tuple[datetime, int] | None = None,
    limit: int = 100,
) -> Sequence[RowMapping]:
    """Events in history order (occurredAt, then arrival), after the cursor position."""
    statement: Select[Any] = select(events)
    for column in ("conversation_id", "flow_execution_id", "launch_id", "flow_id", "kind"):
        value = getattr(where, column)
        if value is not None:
            statement = statement.where(events.c[column] == value)
    if where.since is not None:
        statement = statement.where(events.c.occurred_at >= where.since)
    if where.until is not None:
        statement = statement.where(events.c.occurred_at < where.until)
    if after is not None:
        statement = statement.where(tuple_(events.c.occurred_at, events.c.id) > tuple_(*after))
    statement = statement.order_by(events.c.occurred_at, events.c.id).limit(limit)
    return _fetch(engine, statement)


def list_dead_letters(
    engine: Engine, *, before: int | None = None, limit: int = 100
) -> Sequence[RowMapping]:
    """Dead letters, newest first, older than the cursor id."""
    statement: Select[Any] = select(dead_letters)
    if before is not None:
        statement = statement.where(dead_letters.c.id < before)
    statement = statement.order_by(dead_letters.c.id.desc()).limit(limit)
    return _fetch(engine, statement)


_LARGEST_ID = 2**63 - 1


def get_dead_letter(engine: Engine, letter_id: int) -> RowMapping | None:
    """One dead letter, or None."""
    if not 0 < letter_id <= _LARGEST_ID:
        # Ids are positive BIGINTs: a larger number names nothing (and overflows the driver).
        return None
    rows = _fetch(engine, select(dead_letters).where(dead_letters.c.id == letter_id))
    return rows[0] if rows else None


def _fetch(engine: Engine, statement: Select[Any]) -> Sequence[RowMapping]:
    with read_connection(engine) as connection:
        return connection.execute(statement).mappings().all()


class EventStore(Store):
    """Stored events and dead letters, for async callers (queries in a worker thread)."""

    async def list(
        self, where: EventFilter, *, after: tuple[datetime, int] | None = None, limit: int = 100
    ) -> Sequence[RowMapping]:
        """Events in history order (occurredAt, then arrival), after the cursor position."""
        return await self._run(list_events, where, after=after, limit=limit)

    async def list_dead_letters(
        self, *, before: int | None = None, limit: int = 100
    ) -> Sequence[RowMapping]:
        """Dead letters, newest first, older than the cursor id."""
        return await self._run(list_dead_letters, before=before, limit=limit)

    async def get_dead_letter(self, letter_id: int) -> RowMapping | None:
        """One dead letter, or None."""
        return await self._run(get_dead_letter, letter_id)
