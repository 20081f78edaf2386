"""Reading launches: a filtered page, counts by state, the overdue ones.

Every read here is served by an index on ``launches``: the list walks
``ix_launches_created`` (or the state's, the flow's, the conversation's, the execution's
index) newest first; the counts read ``ix_launches_state_created`` alone; the overdue
launches come from the sweep's ``ix_launches_due``, which holds only unfinished ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, Select, and_, func, literal, or_, select
from sqlalchemy.engine import RowMapping

from storage.engine import is_sqlite, read_connection
from storage.tables import Launch
from storage.tables.tracking import HistoryPull
from storage.vocabulary import STATES, UNFINISHED_STATES

launches = Launch.__table__  # type: ignore[attr-defined]
pulls = HistoryPull.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class LaunchFilter:
    """Which launches to list; every given field must match."""

    state: str | None = None
    flow_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    conversation_id: str | None = None
    flow_execution_id: str | None = None
    #: The name starts with this text (case-sensitive, as the index compares).
    name_prefix: str | None = None


def list_launches(
    engine: Engine,
    where: LaunchFilter,
    *,
    after: tuple[datetime, str] | None = None,
    limit: int = 100,
) -> Sequence[RowMapping]:
    """Launches, newest first, older than the cursor position."""
    statement: Select[Any] = select(launches)
    for condition in _conditions(engine, where):
        statement = statement.where(condition)
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


def _conditions(engine: Engine, where: LaunchFilter) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if where.state is not None:
        found.append(launches.c.state == where.state)
    if where.flow_id is not None:
        found.append(launches.c.flow_id == where.flow_id)
    if where.since is not None:
        found.append(launches.c.created_at >= where.since)
    if where.until is not None:
        found.append(launches.c.created_at < where.until)
    if where.conversation_id is not None:
        found.append(launches.c.conversation_id == where.conversation_id)
    if where.flow_execution_id is not None:
        found.append(launches.c.flow_execution_id == where.flow_execution_id)
    if where.name_prefix:
        found.append(_starts_with(engine, where.name_prefix))
    return found


def _starts_with(engine: Engine, prefix: str) -> ColumnElement[bool]:
    """``name`` starts with ``prefix``, case-sensitively on both databases.

    SQLite's LIKE ignores ASCII case and PostgreSQL's does not: GLOB on SQLite, LIKE on
    PostgreSQL, so a search finds the same launches on both.
    """
    if is_sqlite(engine):
        escaped = "".join(f"[{c}]" if c in "*?[" else c for c in prefix)
        matched: ColumnElement[bool] = launches.c.name.op("GLOB")(literal(escaped + "*"))
        return matched
    started: ColumnElement[bool] = launches.c.name.startswith(prefix, autoescape=True)
    return started


def count_by_state(engine: Engine) -> dict[str, int]:
    """Launches by state now, every state named (0 when none), in lifecycle order.

    One pass over ``ix_launches_state_created`` (never the table): exact, and linear in
    the number of launches.
    """
    statement = select(launches.c.state, func.count()).group_by(launches.c.state)
    with read_connection(engine) as connection:
        found = {str(state): int(n) for state, n in connection.execute(statement)}
    counted = {state: found.pop(state, 0) for state in STATES}
    return {**counted, **found}


def overdue(engine: Engine, now: datetime, limit: int) -> Sequence[RowMapping]:
    """Unfinished launches the sweep should have ended by now, longest overdue first.

    A launch's ``due_at`` is when the sweep acts on it: its deadline or idle limit, then,
    once its termination is under way, the next check or retry. So these are the
    launches past their deadline (or idle limit) that the sweep has not ended yet —
    behind, or retrying against the platform — and those whose termination is under
    way (asked for, or past their deadline) until it is confirmed.
    """
    statement = (
        select(launches)
        .where(
            launches.c.due_at.is_not(None),
            launches.c.state.in_(UNFINISHED_STATES),
            or_(launches.c.due_at <= now, launches.c.termination_reason.is_not(None)),
        )
        .order_by(launches.c.due_at, launches.c.id)
        .limit(limit)
    )
    with read_connection(engine) as connection:
        return connection.execute(statement).mappings().all()


def history_pull(engine: Engine, launch_id: str) -> RowMapping | None:
    """Where the launch's execution history pull stands (None: never looked for)."""
    statement = select(pulls).where(pulls.c.launch_id == launch_id)
    with read_connection(engine) as connection:
        return connection.execute(statement).mappings().first()
