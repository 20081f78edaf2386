"""Advancing the rollups from the committed events and launches, a batch at a time.

Each batch (:func:`advance`):

1. reads where the rollups stand (``rollup_state``): the highest event id taken, the
   ids below it not seen yet (gaps), and the ``updated_at`` launches were taken to;
2. reads the next events by id, and any gap that has since been committed. A gap is
   an id a transaction held but had not committed when the batch was read (several
   writers, on PostgreSQL), or one that never will be (a rolled-back insert, a
   duplicate's spent sequence value): gaps are looked for again for
   :data:`GAP_SECONDS`, then forgotten;
3. adds the events to the facts kept of each run they belong to (``rollup_runs``)
   and computes the run's contribution before and after (storage.rollup_runs); reads
   the launches changed since the launch watermark;
4. in one transaction: moves ``rollup_state`` on *only if its version is still the one
   read in 1* (another advancer — a second replica, ``flowtrack rollups rebuild`` —
   may have committed meanwhile: then this batch is dropped and nothing is written),
   takes back each run's and launch's previous contribution and adds the new one.

So any number of processes may advance at once: the row lock on ``rollup_state`` lets
one batch commit at a time, and each event is taken into its run exactly once. The
events table is read by primary key only, so a batch costs the same however many
events are stored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import (
    Connection,
    Engine,
    Float,
    Integer,
    cast,
    delete,
    func,
    insert,
    select,
    tuple_,
    update,
)

from storage.engine import read_connection, write_transaction
from storage.flowruns import RunEvent
from storage.rollup_launches import changed_launches, count_launches
from storage.rollup_merge import Delta
from storage.rollup_retention import Pruned, prune_rollups
from storage.rollup_runs import contribution, names_of, run_key
from storage.store import Store
from storage.tables import Event, Launch
from storage.tables.rollups import (
    RollupDuration,
    RollupEdge,
    RollupFlow,
    RollupFlowNode,
    RollupLaunch,
    RollupLaunchSeen,
    RollupNode,
    RollupPath,
    RollupRun,
    RollupState,
)

log = logging.getLogger("flowtrack.rollups")

events = Event.__table__  # type: ignore[attr-defined]
launches = Launch.__table__  # type: ignore[attr-defined]
state_table = RollupState.__table__  # type: ignore[attr-defined]
runs_table = RollupRun.__table__  # type: ignore[attr-defined]

#: How long an id skipped by a batch is looked for again.
GAP_SECONDS = 60.0
#: Most gaps remembered: beyond, the oldest are forgotten.
MOST_GAPS = 100_000
_STATE = "events"
_CHUNK = 400
_COLUMNS = (
    events.c.id,
    events.c.flow_id,
    events.c.launch_id,
    events.c.conversation_id,
    events.c.flow_execution_id,
    events.c.kind,
    events.c.source,
    events.c.node_id,
    events.c.node_type,
    events.c.node_name,
)
AGGREGATES = (
    RollupNode,
    RollupDuration,
    RollupEdge,
    RollupPath,
    RollupLaunch,
    RollupLaunchSeen,
    RollupFlow,
    RollupFlowNode,
    RollupRun,
)


RunId = tuple[str, str]


@dataclass
class State:
    """Where the rollups stand (``rollup_state``)."""

    version: int
    position: int
    gaps: dict[int, float]
    launches_at: datetime | None
    advanced_at: datetime | None


@dataclass
class AdvanceReport:
    """What one batch did; ``more`` when the next batch has work right away."""

    events: int = 0
    runs: int = 0
    launches: int = 0
    position: int = 0
    gaps: int = 0
    more: bool = False
    conflict: bool = False


def read_state(connection: Connection) -> State:
    """The rollups' position (the start, before any batch)."""
    row = connection.execute(select(state_table).where(state_table.c.name == _STATE)).first()
    if row is None:
        return State(0, 0, {}, None, None)
    gaps = {int(key): value for key, value in orjson.loads(row.gaps).items()}
    return State(row.version, row.position, gaps, row.launches_at, row.advanced_at)


def advance(engine: Engine, *, limit: int = 5000, now: datetime | None = None) -> AdvanceReport:
    """One batch: up to ``limit`` new events (and changed launches) into the rollups."""
    now = now or datetime.now(UTC)
    clock = time.time()
    with read_connection(engine) as connection:
        state = read_state(connection)
        rows = connection.execute(
            select(*_COLUMNS, epoch_ms(connection).label("ms"))
            .where(events.c.id > state.position)
            .order_by(events.c.id)
            .limit(limit)
        ).all()
        found = _found_gaps(connection, state.gaps)
        taken = [*rows, *found]
        added = _facts_of(taken)
        stored = _stored(connection, added)
        launched = changed_launches(connection, state.launches_at, limit)
    report = AdvanceReport(len(taken), len(added), len(launched.rows))
    position = max((row.id for row in rows), default=state.position)
    gaps = _next_gaps(state, rows, found, position, clock)
    report.position, report.gaps = position, len(gaps)
    report.more = len(rows) == limit or launched.more
    expired = len(gaps) < len(state.gaps) - len(found)
    if not taken and not launched.rows and launched.at == state.launches_at and not expired:
        return report
    delta = Delta()
    merged: dict[RunId, list[RunEvent]] = {}
    for key, facts in added.items():
        before = stored.get(key, [])
        known = {fact.id for fact in before}
        merged[key] = [*before, *(fact for fact in facts if fact.id not in known)]
        delta.run(key[0], contribution(before), contribution(merged[key]))
    for row in taken:
        if row.flow_id is not None:
            at = datetime.fromtimestamp(row.ms / 1000, UTC)
            latest = delta.last_event_at.get(row.flow_id)
            if latest is None or at > latest:
                delta.last_event_at[row.flow_id] = at
    delta.node_names = names_of(taken)
    with write_transaction(engine) as connection:
        if not _claim(connection, state, position, gaps, launched.at, now):
            report.conflict = True
            return report
        count_launches(connection, launched.rows, delta)
        delta.write(connection)
        _store(connection, merged)
    return report


def reset(engine: Engine) -> None:
    """Empty the rollups and their position: the next batches start from the first event."""
    with write_transaction(engine) as connection:
        state = read_state(connection)
        for table in AGGREGATES:
            connection.execute(delete(table.__table__))  # type: ignore[union-attr]
        if not _claim(connection, state, 0, {}, None, None):
            raise RuntimeError("rollup_state changed during the reset")  # pragma: no cover


def lag(engine: Engine) -> tuple[int, State]:
    """How many event ids the rollups are behind the newest event, and their state."""
    with read_connection(engine) as connection:
        state = read_state(connection)
        newest = connection.execute(select(func.max(events.c.id))).scalar() or 0
    return max(newest - state.position, 0), state


def catch_up(engine: Engine, *, most: int = 2000, attempts: int = 5) -> bool:
    """Advance the rollups when they are behind by at most ``most`` events (or launches
    changed); True when they were, or are now, up to date.

    A batch dropped because another advancer committed first (the job, mid-way) is tried
    again: the other one may have read the events before the newest were committed.
    """
    for _ in range(attempts):
        behind, state = lag(engine)
        with read_connection(engine) as connection:
            newest = connection.execute(select(func.max(launches.c.updated_at))).scalar()
        launched = newest is not None and (state.launches_at is None or newest > state.launches_at)
        if not behind and not launched and not state.gaps:
            return True
        if behind > most:
            return False
        report = advance(engine, limit=most)
        if not report.conflict:
            return not report.more
    return False


def _claim(
    connection: Connection,
    state: State,
    position: int,
    gaps: dict[int, float],
    launches_at: datetime | None,
    now: datetime | None,
) -> bool:
    values = {
        "version": state.version + 1,
        "position": position,
        "gaps": orjson.dumps({str(key): value for key, value in gaps.items()}).decode(),
        "launches_at": launches_at,
        "advanced_at": now,
    }
    claimed = connection.execute(
        update(state_table)
        .where(state_table.c.name == _STATE, state_table.c.version == state.version)
        .values(**values)
    )
    return claimed.rowcount == 1


def _found_gaps(connection: Connection, gaps: dict[int, float]) -> Sequence[Any]:
    if not gaps:
        return []
    found: list[Any] = []
    ids = sorted(gaps)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        found.extend(
            connection.execute(
                select(*_COLUMNS, epoch_ms(connection).label("ms")).where(events.c.id.in_(chunk))
            )
        )
    return found


def _next_gaps(
    state: State, rows: Sequence[Any], found: Sequence[Any], position: int, clock: float
) -> dict[int, float]:
    gaps = dict(state.gaps)
    for row in found:
        gaps.pop(row.id, None)
    seen = {row.id for row in rows}
    for missing in range(state.position + 1, position):
        if missing not in seen:
            gaps[missing] = clock
    gaps = {key: at for key, at in gaps.items() if clock - at < GAP_SECONDS}
    if len(gaps) > MOST_GAPS:
        gaps = dict(sorted(gaps.items(), key=lambda item: item[1])[-MOST_GAPS:])
    return gaps


def _facts_of(rows: Sequence[Any]) -> dict[RunId, list[RunEvent]]:
    """The rows' facts, by the run they belong to (rows without a flow belong to none)."""
    runs: dict[RunId, list[RunEvent]] = {}
    for row in rows:
        if row.flow_id is not None:
            key = (row.flow_id, run_key(row.launch_id, row.conversation_id, row.flow_execution_id))
            fact = RunEvent(row.id, row.kind, row.source, float(row.ms), row.node_id, row.node_type)
            runs.setdefault(key, []).append(fact)
    return runs


def _stored(connection: Connection, runs: dict[RunId, Any]) -> dict[RunId, list[RunEvent]]:
    """The facts each run had when it was last taken."""
    keys = sorted(runs)
    stored: dict[RunId, list[RunEvent]] = {}
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        for flow_id, key, text in connection.execute(
            select(runs_table.c.flow_id, runs_table.c.run_key, runs_table.c.facts).where(
                tuple_(runs_table.c.flow_id, runs_table.c.run_key).in_(chunk)
            )
        ):
            stored[(flow_id, key)] = [RunEvent(*fact) for fact in orjson.loads(text)]
    return stored


def _store(connection: Connection, merged: dict[RunId, list[RunEvent]]) -> None:
    keys = sorted(merged)
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        connection.execute(
            delete(runs_table).where(tuple_(runs_table.c.flow_id, runs_table.c.run_key).in_(chunk))
        )
    if keys:
        connection.execute(
            insert(runs_table),
            [
                {
                    "flow_id": flow_id,
                    "run_key": key,
                    # Retention forgets the run once its last event is older than the events'.
                    "last_at": datetime.fromtimestamp(
                        max(fact.occurred_at for fact in merged[(flow_id, key)]) / 1000, UTC
                    ),
                    "facts": orjson.dumps([fact[:6] for fact in merged[(flow_id, key)]]).decode(),
                }
                for flow_id, key in keys
            ],
        )


def epoch_ms(connection: Connection) -> Any:
    """An event's ``occurredAt`` in epoch milliseconds, computed by the database."""
    if connection.dialect.name == "postgresql":
        return cast(func.extract("epoch", events.c.occurred_at), Float) * 1000.0
    # The stored text is naive UTC with fixed microseconds (storage.columns): whole
    # seconds from strftime, microseconds from the text (julianday rounds to 0.04 ms).
    seconds = cast(func.strftime("%s", events.c.occurred_at), Integer)
    micros = cast(func.substr(events.c.occurred_at, 21, 6), Integer)
    return seconds * 1000.0 + micros / 1000.0


class RollupStore(Store):
    """The rollups' advancer and upkeep, for async callers (storage.rollup_retention)."""

    async def advance(self, *, limit: int = 5000) -> AdvanceReport:
        """One batch (:func:`advance`)."""
        return await self._run(advance, limit=limit)

    async def lag(self) -> tuple[int, State]:
        """Event ids behind the newest event, and where the rollups stand."""
        return await self._run(lag)

    async def reset(self) -> None:
        """Empty them: the next batches take every event again (:func:`reset`)."""
        await self._run(reset)

    async def prune(
        self,
        *,
        hourly_before: datetime,
        daily_before: datetime | None,
        events_before: datetime | None,
    ) -> Pruned:
        """Delete what is past the rollups' retention."""
        return await self._run(
            prune_rollups,
            hourly_before=hourly_before,
            daily_before=daily_before,
            events_before=events_before,
        )
