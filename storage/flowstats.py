"""Statistics of one flow over a time range, computed where the data is.

Three independent passes (the API runs them concurrently, the first in two shards),
none of which loads the flow's events into Python:

1. **Runs** (storage.flowruns): entries, exits, errors, visits still open and paths,
   exact, from one scan of a covering index.
2. **Durations, from a bounded sample** (:func:`sample_durations`). Durations need each
   event's time, so they come from the first ``SAMPLE_EVENTS`` events of the same index:
   whole runs, in the order of their (random) launch, conversation or execution ids — a
   uniform sample of runs, walked with the rules of storage.visits. A small flow is
   measured completely. p50 and p95 interpolate between the closest ranks, like
   PostgreSQL's ``percentile_cont``.
3. **Launches** (:func:`count_launches`) by state from the launches table (``createdAt``
   in the range), and the nodes timed-out launches were at when they timed out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Float, Integer, cast, func, select

from storage.engine import read_connection
from storage.flowruns import NodeStats, RunCounts, RunEvent, count_runs, in_flow, node_stats
from storage.tables import Event, Launch
from storage.visits import Walk, choose_family
from storage.vocabulary import ERRORED, EXITED, STATES, TIMED_OUT

events = Event.__table__  # type: ignore[attr-defined]
launches = Launch.__table__  # type: ignore[attr-defined]

SAMPLE_EVENTS = 20_000
TOP_PATHS = 10


@dataclass
class Durations:
    """Pass 2: sorted visit durations per node, from ``runs`` sampled runs."""

    runs: int
    by_node: dict[str, list[float]]
    names: dict[str, tuple[str | None, str | None]]


@dataclass
class LaunchCounts:
    """Pass 3: launches by state; timed-out launches by the node they were stuck at."""

    by_state: dict[str, int]
    stuck: list[tuple[str | None, str | None, int]]


@dataclass
class FlowStats:
    """A flow's statistics; ``paths`` most frequent first."""

    flow_id: str
    runs: int
    launches_by_state: dict[str, int]
    nodes: list[NodeStats]
    paths: list[tuple[tuple[str, ...], int]]
    stuck: list[tuple[str | None, str | None, int]]
    sampled_runs: int


def flow_stats(
    engine: Engine, flow_id: str, *, since: datetime | None = None, until: datetime | None = None
) -> FlowStats:
    """Statistics of ``flow_id`` over [since, until) (an open end: all time), pass by pass."""
    return assemble(
        flow_id,
        count_runs(engine, flow_id, since, until),
        sample_durations(engine, flow_id, since, until),
        count_launches(engine, flow_id, since, until),
    )


def assemble(
    flow_id: str, counts: RunCounts, durations: Durations, launched: LaunchCounts
) -> FlowStats:
    """Put the three passes together."""
    nodes = counts.nodes
    for node_id, values in durations.by_node.items():
        node_stats(nodes, node_id).durations_ms = values
    for node_id, (node_type, node_name) in durations.names.items():
        if node_id in nodes:
            nodes[node_id].node_type, nodes[node_id].node_name = node_type, node_name
    return FlowStats(
        flow_id,
        counts.runs,
        launched.by_state,
        list(nodes.values()),
        counts.paths.most_common(TOP_PATHS),
        launched.stuck,
        durations.runs,
    )


def percentile(ordered: list[float], fraction: float) -> float | None:
    """The ``fraction`` quantile of sorted values, interpolated (percentile_cont)."""
    if not ordered:
        return None
    rank = fraction * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


# -- 2. durations -----------------------------------------------------------------------


def sample_durations(
    engine: Engine, flow_id: str, since: datetime | None, until: datetime | None
) -> Durations:
    """Pass 2: visit durations of the runs in a bounded sample, and the nodes' names."""
    with read_connection(engine) as connection:
        rows = connection.execute(_sample(connection, flow_id, since, until)).all()
        runs: list[list[RunEvent]] = []
        current: Any = object()
        named: dict[str, int] = {}
        for launch, conversation, execution, event_id, kind, source, node, node_type, at in rows:
            # The run as the traces group it: launch, else conversation, else execution.
            key = launch
            if launch is None:
                key = (conversation, None) if conversation is not None else (None, execution)
            if key != current:
                runs.append([])
                current = key
            runs[-1].append(RunEvent(event_id, kind, source, at, node, node_type))
            if node is not None:
                named[node] = event_id
        names = _names(connection, named.values())
    if len(rows) == SAMPLE_EVENTS and runs:
        runs.pop()  # the limit may have cut it short
    by_node: dict[str, list[float]] = {}
    for facts in runs:
        facts.sort(key=lambda fact: (fact.occurred_at, fact.id))
        walk = Walk(choose_family(facts))
        for fact in facts:
            walk.add(fact)
        walk.end()
        for step in walk.steps:
            if (
                step.type == "node"
                and step.outcome in (EXITED, ERRORED)
                and step.entered_at is not None
            ):
                by_node.setdefault(step.node_id or "", []).append(step.exited_at - step.entered_at)
    for values in by_node.values():
        values.sort()
    return Durations(len(runs), by_node, names)


def _sample(connection: Connection, flow_id: str, since: Any, until: Any) -> Any:
    return (
        select(
            events.c.launch_id,
            events.c.conversation_id,
            events.c.flow_execution_id,
            events.c.id,
            events.c.kind,
            events.c.source,
            events.c.node_id,
            events.c.node_type,
            _epoch_ms(connection).label("at"),
        )
        .where(in_flow(flow_id, since, until))
        .order_by(
            events.c.launch_id,
            events.c.conversation_id,
            events.c.flow_execution_id,
            events.c.occurred_at,
            events.c.id,
        )
        .limit(SAMPLE_EVENTS)
    )


def _names(
    connection: Connection, event_ids: Iterable[int]
) -> dict[str, tuple[str | None, str | None]]:
    # Names are not in the index: one event per node, by primary key.
    wanted = sorted(event_ids)
    if not wanted:
        return {}
    found = connection.execute(
        select(events.c.node_id, events.c.node_type, events.c.node_name).where(
            events.c.id.in_(wanted)
        )
    )
    return {node_id: (node_type, node_name) for node_id, node_type, node_name in found}


def _epoch_ms(connection: Connection) -> Any:
    if connection.dialect.name == "postgresql":
        return cast(func.extract("epoch", events.c.occurred_at), Float) * 1000.0
    # The stored text is naive UTC with fixed microseconds (storage.columns): whole
    # seconds from strftime, microseconds from the text (julianday rounds to 0.04 ms).
    seconds = cast(func.strftime("%s", events.c.occurred_at), Integer)
    micros = cast(func.substr(events.c.occurred_at, 21, 6), Integer)
    return seconds * 1000.0 + micros / 1000.0


# -- 3. launches ------------------------------------------------------------------------


def count_launches(
    engine: Engine, flow_id: str, since: datetime | None, until: datetime | None
) -> LaunchCounts:
    """Pass 3: the flow's launches created in the range, by state and stuck node."""
    statement = select(
        launches.c.state,
        launches.c.current_node_id,
        func.max(launches.c.current_node_name),
        func.count(),
    ).where(launches.c.flow_id == flow_id)
    # As for events: no index for the range, so the covering one is read.
    created = func.coalesce(launches.c.created_at, launches.c.created_at)
    if since is not None:
        statement = statement.where(created >= since)
    if until is not None:
        statement = statement.where(created < until)
    statement = statement.group_by(launches.c.state, launches.c.current_node_id)
    with read_connection(engine) as connection:
        rows = connection.execute(statement).all()
    by_state = dict.fromkeys(STATES, 0)
    stuck = []
    for state, node_id, node_name, count in rows:
        by_state[state] = by_state.get(state, 0) + count
        if state == TIMED_OUT:
            stuck.append((node_id, node_name, count))
    stuck.sort(key=lambda item: (-item[2], item[0] or ""))
    return LaunchCounts(by_state, stuck)
