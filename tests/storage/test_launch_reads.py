"""storage.launch_reads: counts by state, the overdue launches, the list's id and name
filters — each from an index, on both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, update

from storage import history_pulls
from storage import launches as store
from storage.launch_reads import count_by_state, history_pull, list_launches, overdue
from storage.launches import LaunchFilter, launches
from storage.vocabulary import STATES
from tests.storage.test_launches import NOW, new_launch
from tests.storage.test_query_plans import full_scans, statements


def _launch(engine: Engine, **values: object) -> str:
    """A launch with the given columns set (state, due_at, names, ids…)."""
    row, _ = store.insert_launch(engine, new_launch(name=values.pop("name", None)))
    if values:
        with engine.begin() as connection:
            connection.execute(update(launches).where(launches.c.id == row["id"]).values(**values))
    return str(row["id"])


def test_counts_name_every_state_and_count_each_launch_once(engine: Engine) -> None:
    assert count_by_state(engine) == dict.fromkeys(STATES, 0)
    _launch(engine)
    _launch(engine, state="running")
    _launch(engine, state="running")
    _launch(engine, state="timed_out", due_at=None)
    counts = count_by_state(engine)
    assert list(counts) == list(STATES)
    assert counts == {**dict.fromkeys(STATES, 0), "pending": 1, "running": 2, "timed_out": 1}


def test_overdue_lists_unfinished_launches_past_their_due_time_longest_first(
    engine: Engine,
) -> None:
    late = _launch(engine, state="running", due_at=NOW - timedelta(minutes=5))
    later = _launch(engine, state="running", due_at=NOW - timedelta(minutes=30))
    _launch(engine, state="running", due_at=NOW + timedelta(minutes=5))  # not yet
    _launch(engine, state="running", due_at=None)  # no deadline at all
    _launch(engine, state="completed", due_at=NOW - timedelta(hours=1))  # ended
    # Its termination is under way: the sweep's next check is ahead, it is still overdue.
    ending = _launch(
        engine, state="running", due_at=NOW + timedelta(seconds=20), termination_reason="timed_out"
    )
    assert [row["id"] for row in overdue(engine, NOW, 10)] == [later, late, ending]
    assert [row["id"] for row in overdue(engine, NOW, 1)] == [later]


def test_the_list_finds_a_launch_by_its_conversation_or_execution(engine: Engine) -> None:
    one = _launch(engine, conversation_id="conv-1", flow_execution_id="exec-1")
    _launch(engine, conversation_id="conv-2", flow_execution_id="exec-2")
    by_conversation = list_launches(engine, LaunchFilter(conversation_id="conv-1"))
    by_execution = list_launches(engine, LaunchFilter(flow_execution_id="exec-1"))
    assert [row["id"] for row in by_conversation] == [one]
    assert [row["id"] for row in by_execution] == [one]
    assert list_launches(engine, LaunchFilter(flow_execution_id="exec-9")) == []


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("order", ["order 4711", "order 4712"]),
        ("order 471", ["order 4711", "order 4712"]),
        ("Order", ["Order x"]),  # case-sensitive on both databases
        ("100%", ["100% off"]),  # LIKE's and GLOB's wildcards are plain text
        ("a_b", ["a_b"]),
        ("[x", ["[x]*?"]),
        ("[x]*", ["[x]*?"]),
        ("none such", []),
    ],
)
def test_the_list_finds_launches_by_the_start_of_their_name(
    engine: Engine, prefix: str, expected: list[str]
) -> None:
    for name in ("order 4711", "order 4712", "Order x", "100% off", "1000 off", "a_b", "axb"):
        _launch(engine, name=name)
    _launch(engine, name="[x]*?")
    _launch(engine)  # no name
    found = list_launches(engine, LaunchFilter(name_prefix=prefix))
    assert sorted(row["name"] for row in found) == expected


def test_a_launch_reads_where_its_execution_history_stands(engine: Engine) -> None:
    launch = _launch(engine, state="completed")
    summary = store.launch_summary(engine, launch)
    assert summary is not None and summary.row["history_state"] is None
    assert history_pull(engine, launch) is None
    history_pulls.mark(engine, launch, history_pulls.EXPIRED, NOW, detail="past retention")
    summary = store.launch_summary(engine, launch)
    assert summary is not None
    assert (summary.row["history_state"], summary.row["history_detail"]) == (
        "expired",
        "past retention",
    )
    assert summary.row["history_attempts"] == 1
    pulled = history_pull(engine, launch)
    assert pulled is not None and pulled["state"] == "expired"


READS = {
    "overdue": lambda e: overdue(e, NOW, 100),
    "by conversation": lambda e: list_launches(e, LaunchFilter(conversation_id="c-1")),
    "by execution": lambda e: list_launches(e, LaunchFilter(flow_execution_id="x-1")),
    "by name prefix": lambda e: list_launches(e, LaunchFilter(name_prefix="order")),
    "history pull": lambda e: history_pull(e, "l-1"),
}


@pytest.mark.parametrize("read", sorted(READS))
def test_each_launch_read_uses_an_index(engine: Engine, read: str) -> None:
    _launch(engine, state="running", conversation_id="c-1", flow_execution_id="x-1")
    with statements(engine) as seen:
        READS[read](engine)
    assert seen
    for sql, params in seen:
        assert full_scans(engine, sql, params) == [], f"{read}: {sql}"


def test_the_counts_read_an_index_never_the_table(engine: Engine) -> None:
    _launch(engine)
    with statements(engine) as seen:
        count_by_state(engine)
    ((sql, params),) = seen
    with engine.connect() as connection:
        raw = connection.connection.driver_connection
        assert raw is not None
        cursor = raw.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            plan = " ".join(str(found[-1]) for found in cursor.fetchall())
            assert "COVERING INDEX ix_launches_state_created" in plan, plan
        else:
            cursor.execute("SET enable_seqscan = off")
            cursor.execute(f"EXPLAIN {sql}", params)
            plan = " ".join(found[0] for found in cursor.fetchall())
            raw.rollback()
            # Which index PostgreSQL's planner takes depends on its statistics; never the
            # table from end to end.
            assert "Seq Scan" not in plan, plan
