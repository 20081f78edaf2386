"""A flow's runs counted straight from its events: the full recomputation.

Flow statistics are read from the rollups (storage.rollups, storage.flowstats); this is
the independent reading the rollups are checked against (tests/storage/test_rollups.py),
and :class:`RunEvent`, the fact of an event a walk needs, which the rollups keep per run.

One scan of the covering index ``ix_events_flow_runs`` groups the flow's events by run —
a launch; else a conversation; else an execution — and spells each run as a trace: its
node events in order, each a token of source family, kind and node id, plus whether the
run completed. Identical traces are counted in SQL, so Python sees only the distinct
ones, and walks each once with the rules of storage.visits and its choice of one source
per run: entries, exits, errors, visits still open (in runs that have not completed)
and paths (the entered nodes in order) are exact.

Both databases aggregate a run's events in index order: history order within each of
the run's (conversation, execution) blocks, which holds all its events from one source.
Events count when their ``occurredAt`` is in the range; a visit cut by an edge of the
range shows up as a missing enter or exit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, String, and_, case, func, literal, select

from storage.engine import read_connection
from storage.tables import Event
from storage.visits import Walk, choose_family, family
from storage.vocabulary import (
    CHECKPOINT_TYPES,
    COMPLETE,
    DATA_ACTION,
    ERROR,
    NODE_ENTER,
    NODE_EXIT,
    NOTIFICATION,
    OPEN,
)

events = Event.__table__  # type: ignore[attr-defined]

# Run ids are mostly UUIDs (flowtrack's launch ids, Genesys' conversation and execution
# ids): split at "8", a flow's runs are two index ranges of about equal size, which two
# connections can scan side by side. Other ids are counted all the same.
Shard = tuple[str | None, str | None]
RUN_SHARDS: tuple[Shard, ...] = ((None, "8"), ("8", None))
_SEPARATOR = "\x1f"
_KIND_CODES = {NODE_ENTER: ">", NODE_EXIT: "<", ERROR: "!"}
_KINDS = {code: kind for kind, code in _KIND_CODES.items()}
_SOURCES = {"d": DATA_ACTION, "p": NOTIFICATION}  # "p" stands for the platform family


@dataclass
class NodeStats:
    """One node: how often it was entered, left and failed, and how long visits took."""

    node_id: str
    node_type: str | None = None
    node_name: str | None = None
    entries: int = 0
    exits: int = 0
    errors: int = 0
    open_now: int = 0
    durations_ms: list[float] = field(default_factory=list)


@dataclass
class RunCounts:
    """A flow's runs: how many, per-node counts, and how often each path was taken."""

    runs: int
    nodes: dict[str, NodeStats]
    paths: Counter[tuple[str, ...]]


class RunEvent(NamedTuple):
    """What storage.visits needs of an event, when it is not a stored row."""

    id: Any
    kind: str
    source: str
    occurred_at: Any
    node_id: str | None
    node_type: str | None = None
    node_name: str | None = None
    output_path: str | None = None
    outcome: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    flow_id: str | None = None


_COMPLETE = RunEvent(None, COMPLETE, "", None, None)


def count_runs(
    engine: Engine,
    flow_id: str,
    since: datetime | None,
    until: datetime | None,
    shard: Shard = (None, None),
) -> RunCounts:
    """The flow's runs in [since, until) whose run id is in ``shard``, read as traces."""
    with read_connection(engine) as connection:
        rows = connection.execute(_traces(connection, flow_id, since, until, shard)).all()
    counts = RunCounts(0, {}, Counter())
    for trace, ended, runs in rows:
        _read_trace(trace, bool(ended), runs, counts)
    return counts


def merge_runs(shards: Iterable[RunCounts]) -> RunCounts:
    """Runs counted shard by shard, added up."""
    total = RunCounts(0, {}, Counter())
    for counts in shards:
        total.runs += counts.runs
        total.paths.update(counts.paths)
        for node_id, node in counts.nodes.items():
            into = node_stats(total.nodes, node_id)
            into.entries += node.entries
            into.exits += node.exits
            into.errors += node.errors
            into.open_now += node.open_now
    return total


def _traces(connection: Connection, flow_id: str, since: Any, until: Any, shard: Shard) -> Any:
    # Kinds without a code (start, complete), milestones and events without a node make
    # NULL tokens, which both aggregates skip.
    data_action = events.c.source == DATA_ACTION
    checkpoint = events.c.node_type.in_(sorted(CHECKPOINT_TYPES))
    prefix = case(
        *(
            (
                events.c.kind == kind,
                case((checkpoint, None), (data_action, f"d{code}"), else_=f"p{code}"),
            )
            for kind, code in _KIND_CODES.items()
        )
    )
    token = prefix + events.c.node_id
    launch, conversation, execution = (
        events.c.launch_id,
        events.c.conversation_id,
        events.c.flow_execution_id,
    )
    where = in_flow(flow_id, since, until)
    postgresql = connection.dialect.name == "postgresql"
    order = (launch, conversation, execution, events.c.occurred_at, events.c.id)
    parts = []
    # Each part groups by a prefix of the index (launch_id is NULL in the last two), so
    # neither database sorts: the rows reach the aggregate in index order.
    for which, run in (
        (launch.is_not(None), (launch,)),
        (and_(launch.is_(None), conversation.is_not(None)), (launch, conversation)),
        (and_(launch.is_(None), conversation.is_(None)), (launch, conversation, execution)),
    ):
        low, high = shard
        if low is not None:
            which = and_(which, run[-1] >= low)
        if high is not None:
            which = and_(which, run[-1] < high)
        if postgresql:
            # Aggregates take rows in the order they come: a subquery in index order
            # costs nothing, where string_agg(… ORDER BY) sorts every run.
            rows = (
                select(*order[:3], events.c.kind, token.label("token"))
                .where(where, which)
                .order_by(*order)
                .subquery()
            )
            trace = func.string_agg(rows.c.token, literal(_SEPARATOR), type_=String)
            ended = func.bool_or(rows.c.kind == COMPLETE)
            parts.append(
                select(trace.label("trace"), ended.label("ended")).group_by(
                    *(rows.c[column.name] for column in run)
                )
            )
        else:
            trace = func.group_concat(token, _SEPARATOR, type_=String)
            ended = func.max(events.c.kind == COMPLETE)
            by_run = select(trace.label("trace"), ended.label("ended")).where(where, which)
            parts.append(by_run.group_by(*run))
    union = parts[0].union_all(*parts[1:]).subquery()
    return select(union.c.trace, union.c.ended, func.count()).group_by(union.c.trace, union.c.ended)


def _read_trace(trace: str | None, ended: bool, runs: int, counts: RunCounts) -> None:
    counts.runs += runs
    facts = [
        RunEvent(None, _KINDS[token[1]], _SOURCES[token[0]], None, token[2:])
        for token in (trace.split(_SEPARATOR) if trace else ())
    ]
    walk = Walk(choose_family(facts))
    path = []
    for fact in facts:
        walk.add(fact)
        if walk.node_family is not None and family(fact.source) != walk.node_family:
            continue
        node = node_stats(counts.nodes, fact.node_id or "")
        if fact.kind == NODE_ENTER:
            node.entries += runs
            path.append(node.node_id)
        elif fact.kind == NODE_EXIT:
            node.exits += runs
        else:
            node.errors += runs
    if ended:
        walk.add(_COMPLETE)
    walk.end()
    for step in walk.steps:
        if step.outcome == OPEN and step.node_id is not None:
            counts.nodes[step.node_id].open_now += runs
    if path:
        counts.paths[tuple(path)] += runs


def in_flow(flow_id: str, since: Any, until: Any) -> Any:
    """The flow's events with ``occurredAt`` in [since, until)."""
    terms = [events.c.flow_id == flow_id]
    # Compared through coalesce() so that no index can serve the range: given one,
    # SQLite takes the flow's time index and looks up every row, where the covering
    # index, read whole, is always the cheaper scan of a flow.
    occurred = func.coalesce(events.c.occurred_at, events.c.occurred_at)
    if since is not None:
        terms.append(occurred >= since)
    if until is not None:
        terms.append(occurred < until)
    return and_(*terms)


def node_stats(nodes: dict[str, NodeStats], node_id: str) -> NodeStats:
    """The node's entry in ``nodes``, added when missing."""
    node = nodes.get(node_id)
    if node is None:
        node = nodes[node_id] = NodeStats(node_id)
    return node
