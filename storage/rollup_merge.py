"""Changes to the rollup aggregates, added up and written as upserts.

A :class:`Delta` collects, for one advancer batch, what each touched run and launch
adds (its new contribution) and takes back (its previous one), per hour; :meth:`write`
adds it to the ``h``, ``d`` and ``t`` rows at once (``INSERT … ON CONFLICT DO UPDATE
SET n = n + excluded.n``, on both databases).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, func
from sqlalchemy.dialects import postgresql, sqlite

from storage.rollup_runs import DAY, NODE_FIELDS, Contribution
from storage.tables.rollups import (
    RollupDuration,
    RollupEdge,
    RollupFlow,
    RollupFlowNode,
    RollupLaunch,
    RollupNode,
    RollupPath,
)

nodes_table: Table = RollupNode.__table__  # type: ignore[attr-defined]
durations_table: Table = RollupDuration.__table__  # type: ignore[attr-defined]
edges_table: Table = RollupEdge.__table__  # type: ignore[attr-defined]
paths_table: Table = RollupPath.__table__  # type: ignore[attr-defined]
launches_table: Table = RollupLaunch.__table__  # type: ignore[attr-defined]
flows_table: Table = RollupFlow.__table__  # type: ignore[attr-defined]
flow_nodes_table: Table = RollupFlowNode.__table__  # type: ignore[attr-defined]

HOURLY, DAILY, TOTAL = "h", "d", "t"

Counts = dict[tuple[Any, ...], list[int]]


def grains(hour: int) -> tuple[tuple[str, int], ...]:
    """The rows an hour's counts go to: the hour, its day, all time."""
    return ((HOURLY, hour), (DAILY, hour - hour % DAY), (TOTAL, 0))


def path_key(path: Sequence[str]) -> str:
    """The digest a path is keyed by."""
    return hashlib.blake2b("\x1f".join(path).encode(), digest_size=16).hexdigest()


@dataclass
class Delta:
    """What one batch adds to the aggregates, per full key."""

    nodes: Counts = field(default_factory=dict)
    durations: Counts = field(default_factory=dict)
    edges: Counts = field(default_factory=dict)
    paths: Counts = field(default_factory=dict)
    path_names: dict[str, str] = field(default_factory=dict)
    launches: Counts = field(default_factory=dict)
    launch_names: dict[tuple[Any, ...], str | None] = field(default_factory=dict)
    last_event_at: dict[str, datetime] = field(default_factory=dict)
    last_launch_at: dict[str, datetime] = field(default_factory=dict)
    node_names: dict[tuple[str, str], tuple[str | None, str | None]] = field(default_factory=dict)

    def run(self, flow_id: str, old: Contribution, new: Contribution) -> None:
        """Replace a run's ``old`` contribution with ``new``."""
        # What changed, first: a run taken again mostly adds to counts it already had.
        for (hour, node), counts in _changes(old.nodes, new.nodes).items():
            for grain, bucket in grains(hour):
                _add(self.nodes, (flow_id, grain, bucket, node), counts, 1)
        for (hour, node, index), count in _changes(old.durations, new.durations).items():
            for grain, bucket in grains(hour):
                _add(self.durations, (flow_id, grain, bucket, node, index), [count], 1)
        for (hour, source, target), count in _changes(old.edges, new.edges).items():
            for grain, bucket in grains(hour):
                _add(self.edges, (flow_id, grain, bucket, source, target), [count], 1)
        for (hour, path), count in _changes(old.paths, new.paths).items():
            key = path_key(path)
            self.path_names[key] = "\x1f".join(path)
            for grain, bucket in grains(hour):
                _add(self.paths, (flow_id, grain, bucket, key), [count], 1)

    def launch(
        self, flow_id: str, hour: int, state: str, node_id: str, node_name: str | None, sign: int
    ) -> None:
        """Count a launch in (``sign`` 1) or out of (-1) its state."""
        for grain, bucket in grains(hour):
            key = (flow_id, grain, bucket, state, node_id)
            _add(self.launches, key, [1], sign)
            if sign > 0 and node_name is not None:
                self.launch_names[key] = node_name

    def write(self, connection: Connection) -> None:
        """Add everything to the tables, in the caller's transaction."""
        _upsert(connection, nodes_table, 4, NODE_FIELDS, self.nodes)
        _upsert(connection, durations_table, 5, ("visits",), self.durations)
        _upsert(connection, edges_table, 5, ("transitions",), self.edges)
        _upsert(
            connection,
            paths_table,
            4,
            ("runs",),
            self.paths,
            extra=lambda key: {"path": self.path_names[key[3]]},
        )
        _upsert(
            connection,
            launches_table,
            5,
            ("launches",),
            self.launches,
            extra=lambda key: {"node_name": self.launch_names.get(key)},
            keep=("node_name",),
        )
        self._write_flows(connection)

    def _write_flows(self, connection: Connection) -> None:
        flows = sorted(set(self.last_event_at) | set(self.last_launch_at))
        if flows:
            rows = [
                {
                    "flow_id": flow_id,
                    "last_event_at": self.last_event_at.get(flow_id),
                    "last_launch_at": self.last_launch_at.get(flow_id),
                }
                for flow_id in flows
            ]
            statement = _insert(connection, flows_table)
            excluded = statement.excluded
            later = _greatest(connection)
            connection.execute(
                statement.on_conflict_do_update(
                    index_elements=["flow_id"],
                    set_={
                        column: func.coalesce(
                            later(flows_table.c[column], excluded[column]),
                            flows_table.c[column],
                            excluded[column],
                        )
                        for column in ("last_event_at", "last_launch_at")
                    },
                ),
                rows,
            )
        if self.node_names:
            statement = _insert(connection, flow_nodes_table)
            excluded = statement.excluded
            connection.execute(
                statement.on_conflict_do_update(
                    index_elements=["flow_id", "node_id"],
                    set_={
                        column: func.coalesce(excluded[column], flow_nodes_table.c[column])
                        for column in ("node_type", "node_name")
                    },
                ),
                [
                    {"flow_id": f, "node_id": n, "node_type": t, "node_name": name}
                    for (f, n), (t, name) in sorted(self.node_names.items())
                ],
            )


def _changes(old: dict[Any, Any], new: dict[Any, Any]) -> dict[Any, Any]:
    """new - old, per key, without the keys that did not change."""
    changed: dict[Any, Any] = {}
    for key in old.keys() | new.keys():
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        either = after if after is not None else before
        if isinstance(either, list):
            width = len(either)
            before = before or [0] * width
            after = after or [0] * width
            changed[key] = [b - a for a, b in zip(before, after, strict=True)]
        else:
            changed[key] = (after or 0) - (before or 0)
    return changed


def _add(into: Counts, key: tuple[Any, ...], counts: Iterable[int], sign: int) -> None:
    found = into.get(key)
    values = [sign * count for count in counts]
    if found is None:
        into[key] = values
    else:
        for index, value in enumerate(values):
            found[index] += value


def _insert(connection: Connection, table: Table) -> Any:
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def _greatest(connection: Connection) -> Any:
    return func.greatest if connection.dialect.name == "postgresql" else func.max


def _upsert(
    connection: Connection,
    table: Table,
    key_length: int,
    fields: Sequence[str],
    counts: Counts,
    *,
    extra: Any = None,
    keep: Sequence[str] = (),
) -> None:
    """Add ``counts`` (key → values of ``fields``) to ``table``; zero changes skipped."""
    key_columns = [column.name for column in table.primary_key.columns][:key_length]
    rows = []
    for key in sorted(counts):
        values = counts[key]
        if not any(values):
            continue
        row = dict(zip(key_columns, key, strict=True)) | dict(zip(fields, values, strict=True))
        if extra is not None:
            row |= extra(key)
        rows.append(row)
    if not rows:
        return
    statement = _insert(connection, table)
    excluded = statement.excluded
    changes = {name: table.c[name] + excluded[name] for name in fields}
    for name in keep:
        changes[name] = func.coalesce(excluded[name], table.c[name])
    connection.execute(
        statement.on_conflict_do_update(index_elements=key_columns, set_=changes), rows
    )
