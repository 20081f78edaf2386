"""The rollups against a full recomputation from the events, on both databases.

Random runs (loops, retries, errors, visits left open, two source families, launch,
conversation and execution runs) are delivered in random order, in random batches with
the rollups advanced in between, with duplicates and late events; the answers must then
equal what the events say: counts exactly, duration percentiles within the bins' stated
error.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select
from sqlalchemy.dialects import postgresql, sqlite

from storage import rollups
from storage.flowruns import RunEvent, count_runs
from storage.flowstats import Window, flow_stats
from storage.rollup_runs import RELATIVE_ERROR, as_fact, contribution, hour_of, run_key
from storage.tables import Event
from storage.visits import Walk, choose_family
from storage.vocabulary import ERRORED, EXITED

events = Event.__table__  # type: ignore[attr-defined]
T0 = datetime(2026, 3, 2, 22, 40, tzinfo=UTC)
NODES = ("ask", "lookup", "notify")


@dataclass
class Planned:
    kind: str
    ms: int
    node: str | None
    source: str
    ids: tuple[str | None, str | None, str | None]


def row(flow: str, planned: Planned) -> dict[str, Any]:
    launch, conversation, execution = planned.ids
    identity = f"{flow}|{planned.kind}|{planned.ms}|{planned.node}|{planned.source}|{planned.ids}"
    at = T0 + timedelta(milliseconds=planned.ms)
    return {
        "dedupe_key": hashlib.blake2b(identity.encode(), digest_size=16).digest(),
        "kind": planned.kind,
        "source": planned.source,
        "occurred_at": at,
        "received_at": at,
        "launch_id": launch,
        "conversation_id": conversation,
        "flow_execution_id": execution,
        "flow_id": flow,
        "node_id": planned.node,
        "node_type": None if planned.node is None else "Task",
        "node_name": None if planned.node is None else planned.node.title(),
        "raw": "{}",
    }


def store(engine: Engine, rows: list[dict[str, Any]]) -> None:
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    with engine.begin() as connection:
        for one in rows:
            statement = dialect.insert(events).values(**one)
            connection.execute(statement.on_conflict_do_nothing(index_elements=["dedupe_key"]))


visits = st.lists(
    st.tuples(
        st.sampled_from(NODES),
        st.sampled_from(["exit", "exit", "error", "error_exit", "no_exit", "no_enter"]),
        st.integers(0, 4000),
        st.integers(0, 3 * 3600_000),  # the pause before the next visit: hours apart
    ),
    min_size=0,
    max_size=6,
)
runs = st.lists(
    st.tuples(
        st.sampled_from(["launch", "conversation", "execution"]),
        st.sampled_from(["data_action", "notification", "both"]),
        visits,
        st.booleans(),  # completed
        st.integers(0, 2 * 86400_000),  # start
    ),
    min_size=1,
    max_size=6,
)


def plan(drawn: list[Any], rng: random.Random) -> list[Planned]:
    planned = []
    for id_kind, sources, steps, completed, start in drawn:
        unique = str(uuid.UUID(int=rng.getrandbits(128)))
        ids = (
            unique if id_kind == "launch" else None,
            unique if id_kind != "execution" else None,
            unique,
        )
        families = ["data_action", "notification"] if sources == "both" else [sources]
        for source in families:
            at = start + (7 if source == "notification" else 0)
            planned.append(Planned("start", at, None, source, ids))
            for node, ending, duration, pause in steps:
                if ending != "no_enter":
                    planned.append(Planned("node_enter", at, node, source, ids))
                if ending in ("error", "error_exit"):
                    planned.append(Planned("error", at + duration // 2, node, source, ids))
                if ending in ("exit", "error_exit", "no_enter"):
                    planned.append(Planned("node_exit", at + duration, node, source, ids))
                at += duration + 1 + pause
            if completed:
                planned.append(Planned("complete", at + 1, None, source, ids))
    return planned


def recomputed(engine: Engine, flow: str, window: Window) -> dict[str, Any]:
    """Counts from every run of the flow, recomputed from all its events at once."""
    with engine.connect() as connection:
        found = connection.execute(select(events).where(events.c.flow_id == flow)).all()
    by_run: dict[str, list[Any]] = {}
    for one in found:
        key = run_key(one.launch_id, one.conversation_id, one.flow_execution_id)
        by_run.setdefault(key, []).append(one)
    nodes: Counter[tuple[str, int]] = Counter()
    paths: Counter[tuple[str, ...]] = Counter()
    edges: Counter[tuple[str, str]] = Counter()
    low, high = window.since or -(2**62), window.until or 2**62
    for rows in by_run.values():
        part = contribution([as_fact(one) for one in rows])
        for (hour, node), counts in part.nodes.items():
            if low <= hour < high:
                for index, value in enumerate(counts):
                    nodes[(node, index)] += value
        for (hour, path), count in part.paths.items():
            if low <= hour < high:
                paths[path] += count
        for (hour, source, target), count in part.edges.items():
            if low <= hour < high:
                edges[(source, target)] += count
    return {"nodes": +nodes, "paths": +paths, "edges": +edges}


def answered(engine: Engine, flow: str, since: Any, until: Any) -> dict[str, Any]:
    stats = flow_stats(engine, flow, since=since, until=until)
    nodes: Counter[tuple[str, int]] = Counter()
    for node in stats.nodes:
        for index, value in enumerate((node.entries, node.exits, node.errors, node.open_now)):
            nodes[(node.node_id, index)] += value
    nodes[("", 4)] += stats.runs
    nodes[("", 5)] += stats.events
    paths = Counter(dict(stats.paths))
    edges = Counter({(source, target): count for source, target, count in stats.edges})
    return {"nodes": +nodes, "paths": +paths, "edges": +edges}


def exact_durations(engine: Engine, flow: str) -> dict[str, list[float]]:
    with engine.connect() as connection:
        found = connection.execute(select(events).where(events.c.flow_id == flow)).all()
    by_run: dict[str, list[Any]] = {}
    for one in found:
        key = run_key(one.launch_id, one.conversation_id, one.flow_execution_id)
        by_run.setdefault(key, []).append(one)
    durations: dict[str, list[float]] = {}
    for rows in by_run.values():
        facts = sorted(rows, key=lambda one: (one.occurred_at, one.id))
        tokens = [f for f in facts if f.kind in ("node_enter", "node_exit", "error") and f.node_id]
        walk = Walk(choose_family(tokens))
        for fact in tokens:
            walk.add(fact)
        if any(fact.kind == "complete" for fact in facts):
            walk.add(RunEvent(None, "complete", "", None, None))
        walk.end()
        for step in walk.steps:
            if step.outcome in (EXITED, ERRORED) and step.entered_at is not None:
                spent = (step.exited_at - step.entered_at).total_seconds() * 1000
                durations.setdefault(step.node_id or "", []).append(spent)
    return {node: sorted(values) for node, values in durations.items()}


def close_to(estimate: float | None, ordered: list[float], fraction: float) -> bool:
    rank = fraction * (len(ordered) - 1)
    low, high = ordered[int(rank)], ordered[min(int(rank) + 1, len(ordered) - 1)]
    assert estimate is not None
    if high < 1:
        return estimate == 0.0 or low < 1
    return low / (1 + RELATIVE_ERROR) - 1e-9 <= estimate <= high * (1 + RELATIVE_ERROR) + 1e-9


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(drawn=runs, seed=st.integers(0, 2**32), windows=st.lists(st.integers(0, 60), min_size=2))
def test_rollups_equal_a_full_recomputation_whatever_the_order_of_delivery(
    engine: Engine, drawn: list[Any], seed: int, windows: list[int]
) -> None:
    rng = random.Random(seed)
    flow = f"flow-{uuid.UUID(int=rng.getrandbits(128))}"
    rows = [row(flow, planned) for planned in plan(drawn, rng)]
    rng.shuffle(rows)
    late = rows[: len(rows) // 4]
    delivered = rows[len(rows) // 4 :] + rng.sample(rows, len(rows) // 5)  # duplicates
    while delivered:
        cut = rng.randint(1, len(delivered))
        store(engine, delivered[:cut])
        delivered = delivered[cut:]
        rollups.advance(engine, limit=rng.randint(1, 40))
    store(engine, late)
    while rollups.advance(engine, limit=rng.randint(1, 40)).more:
        pass
    rollups.advance(engine)

    everything = answered(engine, flow, None, None)
    assert everything == recomputed(engine, flow, Window(None, None))
    # The same counts as the statistics computed from the events by the old reader.
    old = count_runs(engine, flow, None, None)
    assert everything["nodes"][("", 4)] == old.runs
    for node in old.nodes.values():
        got = (everything["nodes"][(node.node_id, index)] for index in range(4))
        assert tuple(got) == (node.entries, node.exits, node.errors, node.open_now)
    assert everything["paths"] == +old.paths

    start = hour_of(T0.timestamp())
    since = datetime.fromtimestamp(start + windows[0] * 3600 - 1800, UTC)
    until = since + timedelta(hours=windows[1] + 1, minutes=7)
    window = Window.of(since, until)
    assert answered(engine, flow, since, until) == recomputed(engine, flow, window)
    assert answered(engine, flow, since, None) == recomputed(engine, flow, Window.of(since, None))

    stats = {node.node_id: node for node in flow_stats(engine, flow).nodes}
    for node_id, ordered in exact_durations(engine, flow).items():
        assert stats[node_id].visits == len(ordered)
        assert close_to(stats[node_id].duration(0.5), ordered, 0.5)
        assert close_to(stats[node_id].duration(0.95), ordered, 0.95)
        assert close_to(stats[node_id].longest(), ordered, 1.0)


def test_an_event_committed_after_a_later_one_is_taken_from_the_gap(engine: Engine) -> None:
    with engine.connect() as connection:
        top = connection.execute(select(func.coalesce(func.max(events.c.id), 0))).scalar() or 0
    ids = ("l-1", "c-1", "x-1")
    first = row("f-gap", Planned("node_enter", 0, "ask", "data_action", ids))
    later = row("f-gap", Planned("node_exit", 2000, "ask", "data_action", ids))
    store(engine, [{**later, "id": top + 5}])
    assert rollups.advance(engine).gaps == 4
    store(engine, [{**first, "id": top + 2}])
    report = rollups.advance(engine)
    assert (report.events, report.gaps) == (1, 3)
    (node,) = flow_stats(engine, "f-gap").nodes
    assert (node.entries, node.exits, node.visits) == (1, 1, 1)


def test_advancers_running_side_by_side_count_every_run_once(engine: Engine) -> None:
    rng = random.Random(11)
    drawn = [
        (
            "conversation",
            "data_action",
            [("ask", "exit", 100 + n, 5), ("notify", "exit", 9, 0)],
            n % 2 == 0,
            n * 600_000,
        )
        for n in range(40)
    ]
    rows = [row("f-race", planned) for planned in plan(drawn, rng)]
    rng.shuffle(rows)

    def advancing() -> None:
        for _ in range(30):
            rollups.advance(engine, limit=7)

    with ThreadPoolExecutor(4) as pool:
        running = [pool.submit(advancing) for _ in range(3)]
        for start in range(0, len(rows), 10):
            store(engine, rows[start : start + 10])
        for done in running:
            done.result()
    while rollups.advance(engine).more:
        pass
    assert answered(engine, "f-race", None, None) == recomputed(
        engine, "f-race", Window(None, None)
    )
    assert flow_stats(engine, "f-race").runs == 40


def test_rebuild_recomputes_the_same_rollups(engine: Engine) -> None:
    rng = random.Random(5)
    drawn = [("launch", "both", [("ask", "exit", 300, 10), ("ask", "error", 40, 0)], True, 0)]
    rows = [row("f-rebuild", planned) for planned in plan(drawn, rng)]
    store(engine, rows)
    rollups.advance(engine)
    before = answered(engine, "f-rebuild", None, None)
    rollups.reset(engine)
    assert answered(engine, "f-rebuild", None, None) == {
        "nodes": Counter(),
        "paths": Counter(),
        "edges": Counter(),
    }
    while rollups.advance(engine, limit=3).more:
        pass
    assert answered(engine, "f-rebuild", None, None) == before
