"""Statistics of one flow over a time window, read from the rollups (storage.rollups).

The cost is the window's rollup rows — nodes times buckets — never its events. A window is
whole hours: ``since`` is rounded down and ``until`` up to the hour
(:class:`Window`), and read as the days inside it plus the hours at its two ends (the
``d`` and ``h`` rows); no window at all is the one ``t`` (all time) row per node.

What is counted where is storage.rollup_runs': a run, its path and its events in their
own hours, a node's entries, exits and errors in the hour of each event, durations in
the hour of the visit's exit. Durations come from log-spaced bins: p50, p95 and max are
each within :data:`~storage.rollup_runs.RELATIVE_ERROR` (4.4 %) of the value of the
visit at that rank. Launches count by state in the hour they were created; timed-out
ones also by the node they were stuck at.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, func, select

from storage.engine import read_connection
from storage.rollup_merge import (
    DAILY,
    HOURLY,
    TOTAL,
    durations_table,
    edges_table,
    flow_nodes_table,
    launches_table,
    nodes_table,
    paths_table,
)
from storage.rollup_runs import DAY, HOUR, NODE_FIELDS, bin_value
from storage.rollups import read_state
from storage.tables import Event
from storage.vocabulary import STATES, TIMED_OUT

events = Event.__table__  # type: ignore[attr-defined]

TOP_PATHS = 10


@dataclass(frozen=True)
class Window:
    """A window in whole hours, as epoch seconds; None: open at that end."""

    since: int | None
    until: int | None

    @classmethod
    def of(cls, since: datetime | None, until: datetime | None) -> Window:
        """``since`` rounded down, ``until`` up, to the hour."""
        low = None if since is None else int(since.timestamp()) // HOUR * HOUR
        high = None if until is None else -(-int(_ceil(until.timestamp())) // HOUR) * HOUR
        return cls(low, high)

    def at(self, seconds: int | None) -> datetime | None:
        """An end as a datetime."""
        return None if seconds is None else datetime.fromtimestamp(seconds, UTC)

    def rows(self, table: Table, flow_id: str) -> Any:
        """The flow's rows of a rollup table in the window, as a subquery: one index
        range per grain (the whole days, the hours at each end), read side by side."""
        grain, bucket = table.c.grain, table.c.bucket
        ranges = [
            select(table).where(table.c.flow_id == flow_id, grain == which, *bounds)
            for which, bounds in self._ranges(bucket)
        ]
        return (
            ranges[0].union_all(*ranges[1:]).subquery()
            if len(ranges) > 1
            else (ranges[0].subquery())
        )

    def _ranges(self, bucket: Any) -> list[tuple[str, list[Any]]]:
        if self.since is None and self.until is None:
            return [(TOTAL, [bucket == 0])]
        first_day = None if self.since is None else -(-self.since // DAY) * DAY
        last_day = None if self.until is None else self.until // DAY * DAY
        if first_day is not None and last_day is not None and first_day >= last_day:
            return [(HOURLY, [bucket >= self.since, bucket < self.until])]
        days: list[Any] = []
        ranges = [(DAILY, days)]
        if first_day is not None:
            days.append(bucket >= first_day)
            ranges.append((HOURLY, [bucket >= self.since, bucket < first_day]))
        if last_day is not None:
            days.append(bucket < last_day)
            ranges.append((HOURLY, [bucket >= last_day, bucket < self.until]))
        return ranges


@dataclass
class NodeStats:
    """One node: its visits' counts, and their durations as bin → visits."""

    node_id: str
    node_type: str | None = None
    node_name: str | None = None
    entries: int = 0
    exits: int = 0
    errors: int = 0
    open_now: int = 0
    bins: dict[int, int] = field(default_factory=dict)

    @property
    def visits(self) -> int:
        """Visits with a duration (an enter and an exit or error)."""
        return sum(self.bins.values())

    def duration(self, fraction: float) -> float | None:
        """The ``fraction`` quantile of the durations, in ms (None: no visit)."""
        total = self.visits
        if not total:
            return None
        rank = round(fraction * (total - 1))
        for index in sorted(self.bins):
            rank -= self.bins[index]
            if rank < 0:
                return bin_value(index)
        return None  # pragma: no cover - the ranks add up to total

    def longest(self) -> float | None:
        """The longest duration, in ms (its bin's value)."""
        return bin_value(max(self.bins)) if self.bins else None


@dataclass
class Coverage:
    """Which part of the answer has raw events behind it, and how fresh the rollups are."""

    raw_events_since: datetime | None
    advanced_at: datetime | None
    position: int
    #: The first day the rollups hold for the flow (None: none).
    rollups_since: datetime | None = None

    def aggregates_only(self, window: Window) -> bool:
        """True when part of ``window`` is covered by rollups whose events are gone."""
        if self.rollups_since is None:
            return False
        if self.raw_events_since is None:
            return True
        # By whole days: the daily rows say which days the rollups hold.
        raw_day = self.raw_events_since.timestamp() // DAY * DAY
        if self.rollups_since.timestamp() >= raw_day:
            return False
        return window.since is None or window.since < raw_day


@dataclass
class FlowStats:
    """A flow's statistics over ``window``; ``paths`` and ``edges`` most frequent first."""

    flow_id: str
    runs: int
    launches_by_state: dict[str, int]
    nodes: list[NodeStats]
    paths: list[tuple[tuple[str, ...], int]]
    stuck: list[tuple[str | None, str | None, int]]
    edges: list[tuple[str, str, int]]
    events: int
    window: Window
    coverage: Coverage


def flow_stats(
    engine: Engine, flow_id: str, *, since: datetime | None = None, until: datetime | None = None
) -> FlowStats:
    """Statistics of ``flow_id`` over [since, until) rounded to the hour (None: open)."""
    window = Window.of(since, until)
    with read_connection(engine) as connection:
        nodes, runs, counted = _nodes(connection, flow_id, window)
        _durations(connection, flow_id, window, nodes)
        _names(connection, flow_id, nodes)
        by_state, stuck = _launches(connection, flow_id, window)
        paths = _paths(connection, flow_id, window)
        edges = _edges(connection, flow_id, window)
        coverage = _coverage(connection, flow_id)
    shown = [node for node in nodes.values() if node.entries or node.exits or node.errors]
    return FlowStats(flow_id, runs, by_state, shown, paths, stuck, edges, counted, window, coverage)


def _nodes(
    connection: Connection, flow_id: str, window: Window
) -> tuple[dict[str, NodeStats], int, int]:
    table = window.rows(nodes_table, flow_id)
    sums = [func.sum(table.c[name]) for name in NODE_FIELDS]
    rows = connection.execute(select(table.c.node_id, *sums).group_by(table.c.node_id))
    nodes: dict[str, NodeStats] = {}
    runs = counted = 0
    for node_id, entries, exits, errors, still_open, run_count, event_count in rows:
        if node_id == "":
            runs, counted = int(run_count), int(event_count)
            continue
        nodes[node_id] = NodeStats(
            node_id,
            entries=int(entries),
            exits=int(exits),
            errors=int(errors),
            open_now=int(still_open),
        )
    return nodes, runs, counted


def _durations(
    connection: Connection, flow_id: str, window: Window, nodes: dict[str, NodeStats]
) -> None:
    table = window.rows(durations_table, flow_id)
    rows = connection.execute(
        select(table.c.node_id, table.c.bin, func.sum(table.c.visits)).group_by(
            table.c.node_id, table.c.bin
        )
    )
    for node_id, index, visits in rows:
        if visits and node_id in nodes:
            nodes[node_id].bins[int(index)] = int(visits)


def _names(connection: Connection, flow_id: str, nodes: dict[str, NodeStats]) -> None:
    table = flow_nodes_table
    rows = connection.execute(
        select(table.c.node_id, table.c.node_type, table.c.node_name).where(
            table.c.flow_id == flow_id
        )
    )
    for node_id, node_type, node_name in rows:
        if node_id in nodes:
            nodes[node_id].node_type, nodes[node_id].node_name = node_type, node_name


def _launches(
    connection: Connection, flow_id: str, window: Window
) -> tuple[dict[str, int], list[tuple[str | None, str | None, int]]]:
    table = window.rows(launches_table, flow_id)
    rows = connection.execute(
        select(
            table.c.state, table.c.node_id, func.max(table.c.node_name), func.sum(table.c.launches)
        ).group_by(table.c.state, table.c.node_id)
    )
    by_state = dict.fromkeys(STATES, 0)
    stuck = []
    for state, node_id, node_name, count in rows:
        if not count:
            continue
        by_state[state] = by_state.get(state, 0) + int(count)
        if state == TIMED_OUT:
            stuck.append((node_id or None, node_name, int(count)))
    stuck.sort(key=lambda item: (-item[2], item[0] or ""))
    return by_state, stuck


def _paths(
    connection: Connection, flow_id: str, window: Window
) -> list[tuple[tuple[str, ...], int]]:
    table = window.rows(paths_table, flow_id)
    runs = func.sum(table.c.runs)
    rows = connection.execute(
        select(func.max(table.c.path), runs)
        .group_by(table.c.path_key)
        .having(runs > 0)
        .order_by(runs.desc(), func.max(table.c.path))
        .limit(TOP_PATHS)
    )
    return [(tuple(path.split("\x1f")), int(count)) for path, count in rows]


def _edges(connection: Connection, flow_id: str, window: Window) -> list[tuple[str, str, int]]:
    table = window.rows(edges_table, flow_id)
    transitions = func.sum(table.c.transitions)
    rows = connection.execute(
        select(table.c.from_node_id, table.c.to_node_id, transitions)
        .group_by(table.c.from_node_id, table.c.to_node_id)
        .having(transitions > 0)
        .order_by(transitions.desc(), table.c.from_node_id, table.c.to_node_id)
    )
    return [(source, target, int(count)) for source, target, count in rows]


def _coverage(connection: Connection, flow_id: str) -> Coverage:
    state = read_state(connection)
    oldest = connection.execute(
        select(func.min(events.c.occurred_at)).where(events.c.flow_id == flow_id)
    ).scalar()
    first_day = connection.execute(
        select(func.min(nodes_table.c.bucket)).where(
            nodes_table.c.flow_id == flow_id, nodes_table.c.grain == DAILY
        )
    ).scalar()
    since = None if first_day is None else datetime.fromtimestamp(first_day, UTC)
    return Coverage(oldest, state.advanced_at, state.position, since)


def _ceil(seconds: float) -> float:
    whole = int(seconds)
    return whole if whole == seconds else whole + 1
