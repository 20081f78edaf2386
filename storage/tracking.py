"""Following launches: attributing events to them and moving their state forward.

A launch's state is derived from its events and only ever moves forward:
pending → running (any event) → completed | failed (a complete; failed when an error
came with it or the outcome says so) | terminated. A completed launch may still turn
failed when an error arrives late; nothing else leaves an end state. launch_failed and
timed_out are set by flowtrack itself.

An ended launch says why in its own row (``state_reason``, ``error_code``), from the
event that ended it: a failed one from its completion's error, else its flow's first
error; a timed-out or terminated one from flowtrack's own record of the decision (the
timeout, or the termination asked for), else from the completion the platform reported.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Connection,
    Engine,
    String,
    any_,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.engine import RowMapping

from storage import outbox
from storage.engine import is_sqlite, read_connection, write_transaction
from storage.tables import Event, Launch
from storage.vocabulary import (
    COMPLETE,
    COMPLETED,
    ERROR,
    FAILED,
    FLOWTRACK,
    NODE_KINDS,
    PENDING,
    RUNNING,
    TERMINAL_STATES,
    TERMINATED,
    TERMINATION_FAILED,
    TIMED_OUT,
)

launches = Launch.__table__  # type: ignore[attr-defined]
events = Event.__table__  # type: ignore[attr-defined]


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
        ended = []
        for launch in found:
            _attribute(connection, launch)
            if _advance(connection, launch, now):
                ended.append(launch["id"])
            seen.append(launch["id"])
        # The webhook outbox, in this transaction: sent if and only if the ends commit.
        outbox.launches_ended(connection, ended, now)
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


def _advance(connection: Connection, launch: RowMapping, now: datetime) -> bool:
    """Move the launch's state forward from its events; True when it just ended."""
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
            # flowtrack's own records (timeouts, disconnects) are not errors of the flow.
            func.count().filter(events.c.kind == ERROR, events.c.source != FLOWTRACK),
            func.max(events.c.received_at),
            latest(events.c.node_id, kinds=NODE_KINDS),
            latest(events.c.node_name, kinds=NODE_KINDS),
            latest(events.c.outcome, kinds=(COMPLETE,)),
            latest(events.c.occurred_at, kinds=(COMPLETE,)),
            func.count().filter(events.c.kind == COMPLETE),
        ).where(mine)
    ).one()
    total, errors, last_received, node_id, node_name, outcome, ended_at, completes = summary
    if not total:
        return False
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
    again = state in (FAILED, TERMINATED, TIMED_OUT)
    if again:
        moved["error_code"], moved["state_reason"] = _why_ended(connection, mine, state)
    this = launches.c.id == launch["id"]
    changed = connection.execute(
        update(launches).where(this, launches.c.state.in_(allowed_from)).values(**moved)
    ).rowcount
    if again and not changed:
        # Again when already there: a late error can tell a failure's cause better.
        connection.execute(update(launches).where(this, launches.c.state == state).values(**moved))
    return bool(changed) and state in TERMINAL_STATES


def _why_ended(connection: Connection, mine: Any, state: str) -> tuple[str | None, str | None]:
    """The error code and reason of the event that ended a launch in ``state``.

    Only read once a launch has a completion: the events of a running one never pay it.
    """

    def first(*terms: Any, latest: bool = False) -> Any:
        order = (events.c.occurred_at, events.c.id)
        if latest:
            order = (events.c.occurred_at.desc(), events.c.id.desc())
        columns = (events.c.error_code, events.c.error_message)
        statement = select(*columns).where(mine, *terms).order_by(*order).limit(1)
        return connection.execute(statement).first()

    complete = first(events.c.kind == COMPLETE, latest=True)
    complete_code, complete_message = complete if complete is not None else (None, None)
    if state == FAILED:
        error = first(events.c.kind == ERROR, events.c.source != FLOWTRACK)
        error_code, error_message = error if error is not None else (None, None)
        reason = complete_message if complete_code else error_message or complete_message
        return complete_code or error_code, reason or "the flow reported outcome failed"
    # flowtrack's first record about it is the decision (later ones: disconnects).
    decision = first(events.c.kind == ERROR, events.c.source == FLOWTRACK)
    if decision is not None:
        return decision.error_code, decision.error_message
    return complete_code, complete_message or f"the platform reported the flow {state}"
