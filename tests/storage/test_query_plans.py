"""Query plans are part of the contract: every list and filter read uses an index.

Each read runs once through its real storage function; every statement it sends is
captured and explained with the same parameters (SQLite: ``EXPLAIN QUERY PLAN``;
PostgreSQL: ``EXPLAIN`` with sequential scans priced out, so a ``Seq Scan`` only shows
where no index can serve the query). No plan may read the whole of ``events`` or
``launches`` — so a later change cannot silently lose an index.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event

from storage import flows, flowstats, history, launches, queries, rollups
from storage.launches import LaunchFilter
from storage.queries import EventFilter
from tests.storage.test_rollups import Planned, row, store

T = datetime(2026, 3, 2, 10, 15, tzinfo=UTC)
WATCHED = ("events", "launches")


@contextmanager
def statements(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
        if not many and sql.lstrip().upper().startswith(("SELECT", "WITH")):
            seen.append((sql, params))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", capture)


def full_scans(engine: Engine, sql: str, params: Any) -> list[str]:
    """The steps of the statement's plan that read a watched table (or a whole index of
    it) from end to end; walking an index in order is allowed under a LIMIT, which
    stops it after a page."""
    limited = " LIMIT " in sql.upper()
    with engine.connect() as connection:
        raw = connection.connection.driver_connection
        assert raw is not None
        cursor = raw.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            lines = [str(found[-1]) for found in cursor.fetchall()]
            return [
                line
                for line in lines
                if any(line == f"SCAN {t}" or line.startswith(f"SCAN {t} ") for t in WATCHED)
                and not ("INDEX" in line and limited)
            ]
        cursor.execute("SET enable_seqscan = off")
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0][0]["Plan"]
        cursor.execute("RESET enable_seqscan")
        raw.rollback()
    found = []
    for node in _nodes(plan):
        if node.get("Relation Name") not in WATCHED:
            continue
        kind = node["Node Type"]
        if kind == "Seq Scan" or ("Index" in kind and "Index Cond" not in node and not limited):
            found.append(f"{kind} on {node['Relation Name']}")
    return found


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child)


def fill(engine: Engine) -> str:
    ids = ("l-1", "c-1", "x-1")
    store(
        engine,
        [
            row("f-1", Planned("node_enter", 0, "ask", "data_action", ids)),
            row("f-1", Planned("node_exit", 900, "ask", "data_action", ids)),
        ],
    )
    launch, _ = launches.insert_launch(
        engine,
        launches.NewLaunch("l-1", "f-1", None, None, None, None, None, None, T, None),
    )
    rollups.advance(engine)
    return str(launch["id"])


READS: dict[str, Callable[[Engine], Any]] = {
    "launches list": lambda e: launches.list_launches(e, LaunchFilter()),
    "launches by state": lambda e: launches.list_launches(e, LaunchFilter(state="running")),
    "launches by flow": lambda e: launches.list_launches(e, LaunchFilter(flow_id="f-1")),
    "launches since": lambda e: launches.list_launches(e, LaunchFilter(since=T)),
    "launches until": lambda e: launches.list_launches(e, LaunchFilter(until=T)),
    "launches, next page": lambda e: launches.list_launches(e, LaunchFilter(), after=(T, "l-1")),
    "one launch": lambda e: launches.get_launch(e, "l-1"),
    "events list": lambda e: queries.list_events(e, EventFilter()),
    "events by conversation": lambda e: queries.list_events(e, EventFilter(conversation_id="c")),
    "events by execution": lambda e: queries.list_events(e, EventFilter(flow_execution_id="x")),
    "events by launch": lambda e: queries.list_events(e, EventFilter(launch_id="l-1")),
    "events by flow": lambda e: queries.list_events(e, EventFilter(flow_id="f-1")),
    "events by kind": lambda e: queries.list_events(e, EventFilter(kind="error")),
    "events since": lambda e: queries.list_events(e, EventFilter(since=T)),
    "events until": lambda e: queries.list_events(e, EventFilter(until=T)),
    "events, next page": lambda e: queries.list_events(e, EventFilter(), after=(T, 1)),
    "dead letters": lambda e: queries.list_dead_letters(e),
    "dead letters, next page": lambda e: queries.list_dead_letters(e, before=10),
    "conversation transitions": lambda e: history.transitions(
        e, "conversation_id", "c-1", limit=100
    ),
    "launch transitions": lambda e: history.launch_transitions(e, "l-1", limit=100),
    "flows list": lambda e: flows.list_flows(e),
    "flow known": lambda e: flows.flow_known(e, "f-1"),
    "flow stats, all time": lambda e: flowstats.flow_stats(e, "f-1"),
    "flow stats, a window": lambda e: flowstats.flow_stats(
        e, "f-1", since=T - timedelta(days=3), until=T + timedelta(hours=5)
    ),
    "rollup lag": lambda e: rollups.lag(e),
}


@pytest.mark.parametrize("read", sorted(READS))
def test_each_read_uses_an_index_never_a_full_scan(engine: Engine, read: str) -> None:
    fill(engine)
    with statements(engine) as seen:
        READS[read](engine)
    assert seen, f"{read}: no statement captured"
    for sql, params in seen:
        assert full_scans(engine, sql, params) == [], f"{read}: {sql}"
