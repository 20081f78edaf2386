"""Launches: recording them, attributing events to them, and following their state.

A launch's state is derived from its events and only ever moves forward:
pending → running (any event) → completed | failed (a complete; failed when an error
came with it or the outcome says so) | terminated. A completed launch may still turn
failed when an error arrives late; nothing else leaves an end state. launch_failed and
timed_out are set by flowtrack itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Connection,
    Engine,
    Select,
    String,
    and_,
    any_,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.engine import RowMapping

from storage.engine import is_sqlite, read_connection, write_transaction
from storage.errors import DuplicateKey
from storage.tables import Event, Launch

launches = Launch.__table__  # type: ignore[attr-defined]
events = Event.__table__  # type: ignore[attr-defined]

PENDING = "pending"
RUNNING = "running"
COMPLETED = "completed"
FAILED = "failed"
TERMINATED = "terminated"
TIMED_OUT = "timed_out"
LAUNCH_FAILED = "launch_failed"
TERMINATION_FAILED = "termination_failed"
TERMINAL_STATES = frozenset({COMPLETED, FAILED, TERMINATED, TIMED_OUT, LAUNCH_FAILED})
STATES = (
    PENDING,
    RUNNING,
    COMPLETED,
    FAILED,
    TERMINATED,
    TIMED_OUT,
    LAUNCH_FAILED,
    TERMINATION_FAILED,
)
# flowtrack's own records (timeouts, disconnects) are not errors of the flow.
OWN_SOURCE = "flowtrack"


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


@dataclass(frozen=True)
class LaunchFilter:
    """Which launches to list; every given field must match."""

    state: str | None = None
    flow_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


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


def list_launches(
    engine: Engine,
    where: LaunchFilter,
    *,
    after: tuple[datetime, str] | None = None,
    limit: int = 100,
) -> Sequence[RowMapping]:
    """Launches, newest first, older than the cursor position."""
    statement: Select[Any] = select(launches)
    if where.state is not None:
        statement = statement.where(launches.c.state == where.state)
    if where.flow_id is not None:
        statement = statement.where(launches.c.flow_id == where.flow_id)
    if where.since is not None:
        statement = statement.where(launches.c.created_at >= where.since)
    if where.until is not None:
        statement = statement.where(launches.c.created_at < where.until)
    if after is not None:
        at, launch_id = after
        statement = statement.where(
            or_(
                launches.c.created_at < at,
                and_(launches.c.created_at == at, launches.c.id < launch_id),
            )
        )
    statement = statement.order_by(launches.c.created_at.desc(), launches.c.id.desc())
    with read_connection(engine) as connection:
        return connection.execute(statement.limit(limit)).mappings().all()


def event_summary(engine: Engine, launch_id: str) -> tuple[dict[str, int], RowMapping | None]:
    """Event counts by kind, and the latest event (history order) of a launch."""
    with read_connection(engine) as connection:
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
        connection.execute(
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


def refresh(
    engine: Engine,
    *,
    launch_ids: Iterable[str] = (),
    execution_ids: Iterable[str] = (),
    conversation_ids: Iterable[str] = (),
    now: datetime,
) -> list[str]:
    """Attribute unattributed events to the launches these keys name; update their state.

    Returns the ids of the launches looked at. Safe to run concurrently and repeatedly:
    attribution only fills empty ``launch_id``s and states only move forward.
    """
    conditions = []
    for column, keys in (
        (launches.c.id, set(launch_ids)),
        (launches.c.flow_execution_id, set(execution_ids)),
        (launches.c.conversation_id, set(conversation_ids)),
    ):
        if keys:
            conditions.append(_one_of(engine, column, keys))
    if not conditions:
        return []
    query = select(launches).where(or_(*conditions))
    # Most keys name no launch (flows started elsewhere, or already seen): finding that
    # out must not take SQLite's write lock, which the event writer needs all the time.
    with read_connection(engine) as connection:
        if connection.execute(query.with_only_columns(launches.c.id).limit(1)).first() is None:
            return []
    seen: list[str] = []
    with write_transaction(engine) as connection:
        found = connection.execute(query).mappings().all()
        for launch in found:
            _attribute(connection, launch)
            _advance(connection, launch, now)
            seen.append(launch["id"])
    return seen


def _one_of(engine: Engine, column: ColumnElement[Any], keys: set[str]) -> ColumnElement[bool]:
    """``column`` is one of ``keys``.

    The tracker asks this for every key a commit stored, hundreds at a time under load.
    On PostgreSQL the keys go as one array parameter: an expanding IN made SQLAlchemy and
    the driver render and bind each key, ~2.4 ms of CPU for 3 x 100 keys against ~0.5 ms.
    """
    ordered = sorted(keys)
    if is_sqlite(engine):
        return column.in_(ordered)
    return column == any_(literal(ordered, ARRAY(String)))


def _attribute(connection: Connection, launch: RowMapping) -> None:
    execution = launch["flow_execution_id"]
    conversation = launch["conversation_id"]
    if execution is not None:
        connection.execute(
            update(events)
            .where(events.c.launch_id.is_(None), events.c.flow_execution_id == execution)
            .values(launch_id=launch["id"])
        )
    if conversation is not None:
        # A conversation can host other flows too: only take what is not someone else's.
        connection.execute(
            update(events)
            .where(
                events.c.launch_id.is_(None),
                events.c.conversation_id == conversation,
                or_(events.c.flow_execution_id.is_(None), events.c.flow_execution_id == execution),
                or_(events.c.flow_id.is_(None), events.c.flow_id == launch["flow_id"]),
            )
            .values(launch_id=launch["id"])
        )


def _advance(connection: Connection, launch: RowMapping, now: datetime) -> None:
    mine = events.c.launch_id == launch["id"]

    def latest(*columns: Any, kinds: tuple[str, ...]) -> Any:
        return (
            select(*columns)
            .where(mine, events.c.kind.in_(kinds))
            .order_by(events.c.occurred_at.desc(), events.c.id.desc())
            .limit(1)
            .scalar_subquery()
        )

    # One statement, so it reads one snapshot: separate queries could see a complete
    # that committed after the error count was taken, and finish the launch wrongly.
    summary = connection.execute(
        select(
            func.count(),
            func.count().filter(events.c.kind == "error", events.c.source != OWN_SOURCE),
            func.max(events.c.received_at),
            latest(events.c.node_id, kinds=("node_enter", "node_exit")),
            latest(events.c.node_name, kinds=("node_enter", "node_exit")),
            latest(events.c.outcome, kinds=("complete",)),
            latest(events.c.occurred_at, kinds=("complete",)),
            latest(events.c.error_code, kinds=("complete",)),
            func.count().filter(events.c.kind == "complete"),
        ).where(mine)
    ).one()
    total, errors, last_received, node_id, node_name, outcome, ended_at, code, completes = summary
    if not total:
        return
    values: dict[str, Any] = {"last_event_at": last_received, "updated_at": now}
    if node_id is not None:
        values["current_node_id"], values["current_node_name"] = node_id, node_name
    state = RUNNING
    if completes:
        values["ended_at"] = ended_at
        if outcome in (TERMINATED, TIMED_OUT):
            state = outcome
        elif errors or outcome == FAILED:
            state = FAILED
            values["error_code"] = code
        else:
            state = COMPLETED
    idle = launch["idle_timeout_seconds"]
    if state == RUNNING and idle is not None and launch["disconnect_requested_at"] is None:
        # Every event pushes the idle deadline out (never past the overall deadline).
        idle_due = last_received + timedelta(seconds=idle)
        deadline = launch["deadline_at"]
        values["due_at"] = idle_due if deadline is None else min(deadline, idle_due)
    # Bookkeeping always; the state only forward. A completed launch still turns failed
    # when an error that came before its end arrives late (delivery is unordered); a
    # launch whose termination failed may still end by itself.
    connection.execute(update(launches).where(launches.c.id == launch["id"]).values(**values))
    ending = (PENDING, RUNNING, TERMINATION_FAILED)
    allowed_from = {
        RUNNING: (PENDING,),
        COMPLETED: ending,
        TERMINATED: ending,
        TIMED_OUT: ending,
        FAILED: (*ending, COMPLETED),
    }[state]
    moved: dict[str, Any] = {"state": state}
    if state in TERMINAL_STATES:
        moved["due_at"] = None
    connection.execute(
        update(launches)
        .where(launches.c.id == launch["id"], launches.c.state.in_(allowed_from))
        .values(**moved)
    )


def _one(engine: Engine, condition: Any) -> RowMapping | None:
    with read_connection(engine) as connection:
        return connection.execute(select(launches).where(condition)).mappings().first()
