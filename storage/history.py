"""Transition histories: the path one launch or conversation took, a page at a time.

Events are read in history order in chunks and walked into steps (storage.visits). A
page ends once its steps are settled — a visit is settled by its exit, by the next
enter of its node, by a completion, or by the end of the history — so a page never
shows a visit that the events after it could still change. The next page starts after
the last step shown and carries the nodes whose visits were still open there, so their
later exits and errors settle them instead of appearing as steps of their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, or_, select, tuple_
from sqlalchemy.engine import RowMapping

from storage.engine import read_connection
from storage.store import Store
from storage.tables import Event, Launch
from storage.visits import Step, Walk, choose_family
from storage.vocabulary import CHECKPOINT_TYPES, DATA_ACTION, NODE_KINDS, PLATFORM

events = Event.__table__  # type: ignore[attr-defined]
launches = Launch.__table__  # type: ignore[attr-defined]

# Events read per round trip; a normal history (a few dozen events) takes one.
CHUNK = 2000
KEYS = ("launch_id", "conversation_id")

_COLUMNS = (
    events.c.id,
    events.c.kind,
    events.c.source,
    events.c.occurred_at,
    events.c.node_id,
    events.c.node_type,
    events.c.node_name,
    events.c.output_path,
    events.c.outcome,
    events.c.error_code,
    events.c.error_message,
    events.c.flow_id,
)


@dataclass(frozen=True)
class Resume:
    """Where the previous page ended.

    ``node_family`` is the source family chosen on the first page, ``after`` the
    position (occurredAt, id) of the last step shown, ``open_nodes`` the nodes whose
    shown visits were still open there.
    """

    node_family: str | None
    after: tuple[datetime, int]
    open_nodes: tuple[str, ...]


@dataclass(frozen=True)
class TransitionPage:
    """Up to ``limit`` settled steps, and where the next page starts (None: the last)."""

    steps: list[Step]
    node_family: str | None
    resume: Resume | None


def transitions(
    engine: Engine, key: str, value: str, *, limit: int, resume: Resume | None = None
) -> TransitionPage | None:
    """The path of the events whose ``key`` (launch_id, conversation_id) is ``value``.

    Returns None when no event has that key at all (only asked on a first page).
    """
    if key not in KEYS:
        raise ValueError(f"transitions are by {' or '.join(KEYS)}, not {key}")
    with read_connection(engine) as connection:
        return _page(connection, events.c[key] == value, limit, resume)


def launch_transitions(
    engine: Engine, launch_id: str, *, limit: int, resume: Resume | None = None
) -> tuple[RowMapping | None, TransitionPage | None]:
    """The launch (None: unknown) and the path of its events, read on one connection."""
    with read_connection(engine) as connection:
        launch = connection.execute(select(launches).where(launches.c.id == launch_id))
        row = launch.mappings().first()
        if row is None:
            return None, None
        return row, _page(connection, events.c.launch_id == launch_id, limit, resume)


def _page(
    connection: Connection, mine: Any, limit: int, resume: Resume | None
) -> TransitionPage | None:
    rows = _chunk(connection, mine, resume.after if resume else None)
    if resume is None:
        if not rows:
            return None
        # A short history is all here: no second query to choose its source.
        node_family = choose_family(rows) if len(rows) < CHUNK else _family(connection, mine)
    else:
        node_family = resume.node_family
    walk = Walk(node_family, resume.open_nodes if resume else ())
    while True:
        for row in rows:
            walk.add(row)
        if len(rows) < CHUNK:
            walk.end()
            break
        if walk.settled() >= limit and len(walk.steps) > limit:
            break
        last = rows[-1]
        rows = _chunk(connection, mine, (last.occurred_at, last.id))
    shown = walk.steps[:limit]
    following = None
    if len(walk.steps) > limit:
        after = shown[-1].position
        following = Resume(node_family, after, tuple(walk.open_after(after, shown)))
    return TransitionPage(shown, node_family, following)


def _chunk(connection: Connection, mine: Any, after: tuple[datetime, int] | None) -> Sequence[Any]:
    statement = select(*_COLUMNS).where(mine)
    if after is not None:
        statement = statement.where(tuple_(events.c.occurred_at, events.c.id) > tuple_(*after))
    statement = statement.order_by(events.c.occurred_at, events.c.id).limit(CHUNK)
    return connection.execute(statement).all()


def _family(connection: Connection, mine: Any) -> str | None:
    """The node-event family of a long history (see storage.visits), by two lookups."""
    node_events = and_(
        mine,
        events.c.kind.in_(NODE_KINDS),
        events.c.node_id.is_not(None),
        or_(events.c.node_type.is_(None), events.c.node_type.not_in(sorted(CHECKPOINT_TYPES))),
    )
    from_data_action = select(events.c.id).where(node_events, events.c.source == DATA_ACTION)
    if connection.execute(from_data_action.limit(1)).first() is not None:
        return DATA_ACTION
    if connection.execute(select(events.c.id).where(node_events).limit(1)).first() is not None:
        return PLATFORM
    return None


class HistoryStore(Store):
    """Transition histories, for async callers (read in a worker thread)."""

    async def transitions(
        self, key: str, value: str, *, limit: int, resume: Resume | None = None
    ) -> TransitionPage | None:
        """The path of the events whose ``key`` (launch_id, conversation_id) is ``value``;
        None when no event has that key."""
        return await self._run(transitions, key, value, limit=limit, resume=resume)

    async def launch_transitions(
        self, launch_id: str, *, limit: int, resume: Resume | None = None
    ) -> tuple[RowMapping | None, TransitionPage | None]:
        """The launch (None: unknown) and the path of its events, read on one connection."""
        return await self._run(launch_transitions, launch_id, limit=limit, resume=resume)
