"""What one run adds to the rollups: its events walked with storage.visits, bucketed.

A run is a flow's events of one launch; else of one conversation; else of one execution
(as storage.flowruns groups them). The rollups keep each run's facts (what a walk needs
of its events, ``rollup_runs.facts``); when the run gets new events its contribution is
computed again from all of them and replaces the previous one in the aggregates
(storage.rollups): so a late, out-of-order or missing-then-found event changes the
answer exactly as if the events had arrived in order, and a visit's duration counts
once its enter and its exit are both in.

What counts where (``bucket``: the start of an hour, in epoch seconds):

- entries, exits, errors: the node events of the run's chosen source family, in the
  bucket of each event;
- visits still open (the run has no completion and the visit no exit): the bucket of
  the enter;
- durations: visits with an enter and an exit (or an error), in the bucket of the exit,
  as a count per duration bin (:func:`duration_bin`);
- edges: each pair of nodes entered one after the other, in the bucket of the second;
- the run itself, its path (the entered nodes in order), in the bucket of its first
  event; its events, each in its own bucket.

Durations are binned on a log scale, ``BINS_PER_DOUBLING`` bins for each doubling from
1 ms: a bin's geometric middle is within :data:`RELATIVE_ERROR` (4.4 %) of every value
in it. Below 1 ms (and a negative duration, clocks disagreeing) is bin 0, read as 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from storage.flowruns import RunEvent
from storage.visits import Walk, choose_family, family
from storage.vocabulary import (
    CHECKPOINT_TYPES,
    COMPLETE,
    ERROR,
    ERRORED,
    EXITED,
    NODE_ENTER,
    NODE_EXIT,
    OPEN,
)

HOUR = 3600
DAY = 86400
BINS_PER_DOUBLING = 8
#: Largest relative distance between a duration and the value its bin reads as.
RELATIVE_ERROR = 2 ** (1 / (2 * BINS_PER_DOUBLING)) - 1
#: The fields of a node row, in this order (node ``''``: the flow's own row).
NODE_FIELDS = ("entries", "exits", "errors", "open_visits", "runs", "events")
_ENTRIES, _EXITS, _ERRORS, _OPEN, _RUNS, _EVENTS = range(len(NODE_FIELDS))
_TOKEN_KINDS = (NODE_ENTER, NODE_EXIT, ERROR)
_COMPLETE = RunEvent(None, COMPLETE, "", None, None)


def duration_bin(ms: float) -> int:
    """The bin of a duration in milliseconds."""
    if ms < 1:
        return 0
    return 1 + math.floor(BINS_PER_DOUBLING * math.log2(ms))


def bin_value(index: int) -> float:
    """What a bin reads as: its geometric middle (0 for bin 0)."""
    if index <= 0:
        return 0.0
    return float(2 ** ((index - 0.5) / BINS_PER_DOUBLING))


def hour_of(seconds: float) -> int:
    """The start of the hour holding ``seconds`` since the epoch."""
    return int(seconds // HOUR) * HOUR


def run_key(launch_id: str | None, conversation_id: str | None, execution_id: str | None) -> str:
    """The run an event belongs to within its flow (storage.flowruns' grouping)."""
    if launch_id is not None:
        return "l" + launch_id
    if conversation_id is not None:
        return "c" + conversation_id
    return "x" + (execution_id or "")


@dataclass
class Contribution:
    """A run's counts, each keyed by its bucket first."""

    nodes: dict[tuple[int, str], list[int]] = field(default_factory=dict)
    durations: dict[tuple[int, str, int], int] = field(default_factory=dict)
    edges: dict[tuple[int, str, str], int] = field(default_factory=dict)
    paths: dict[tuple[int, tuple[str, ...]], int] = field(default_factory=dict)

    def node(self, bucket: int, node_id: str) -> list[int]:
        """The counts of ``node_id`` in ``bucket`` (added when missing)."""
        found = self.nodes.get((bucket, node_id))
        if found is None:
            found = self.nodes[(bucket, node_id)] = [0] * len(NODE_FIELDS)
        return found

    def dumps(self) -> str:
        """As stored in ``rollup_runs.contribution``."""
        return orjson.dumps(
            {
                "n": [[b, n, *counts] for (b, n), counts in self.nodes.items()],
                "d": [[b, n, i, c] for (b, n, i), c in self.durations.items()],
                "e": [[b, f, t, c] for (b, f, t), c in self.edges.items()],
                "p": [[b, list(p), c] for (b, p), c in self.paths.items()],
            }
        ).decode()

    @classmethod
    def loads(cls, text: str | None) -> Contribution:
        """The stored form back (an empty contribution for None)."""
        found = cls()
        if not text:
            return found
        data = orjson.loads(text)
        found.nodes = {(row[0], row[1]): list(row[2:]) for row in data["n"]}
        found.durations = {(b, n, i): c for b, n, i, c in data["d"]}
        found.edges = {(b, f, t): c for b, f, t, c in data["e"]}
        found.paths = {(b, tuple(p)): c for b, p, c in data["p"]}
        return found


def contribution(taken: Sequence[RunEvent]) -> Contribution:
    """What a run's facts (``occurred_at`` in epoch ms) add to the rollups."""
    found = Contribution()
    if not taken:
        return found
    facts = sorted(taken, key=lambda fact: (fact.occurred_at, fact.id))
    first = hour_of(facts[0].occurred_at / 1000)
    found.node(first, "")[_RUNS] += 1
    for fact in facts:
        found.node(hour_of(fact.occurred_at / 1000), "")[_EVENTS] += 1
    # Only a visit's own events make its trace; a completion anywhere ends the run
    # (storage.flowruns reads traces the same way).
    ended = any(fact.kind == COMPLETE for fact in facts)
    tokens = [fact for fact in facts if _is_token(fact)]
    walk = Walk(choose_family(tokens))
    path: list[str] = []
    for fact in tokens:
        walk.add(fact)
        if walk.node_family is not None and family(fact.source) != walk.node_family:
            continue
        bucket = hour_of(fact.occurred_at / 1000)
        node = str(fact.node_id)
        counts = found.node(bucket, node)
        if fact.kind == NODE_ENTER:
            counts[_ENTRIES] += 1
            if path:
                edge = (bucket, path[-1], node)
                found.edges[edge] = found.edges.get(edge, 0) + 1
            path.append(node)
        elif fact.kind == NODE_EXIT:
            counts[_EXITS] += 1
        else:
            counts[_ERRORS] += 1
    if ended:
        walk.add(_COMPLETE)
    walk.end()
    for step in walk.steps:
        if step.node_id is None or step.entered_at is None:
            continue
        if step.outcome == OPEN:
            found.node(hour_of(step.entered_at / 1000), step.node_id)[_OPEN] += 1
        elif step.outcome in (EXITED, ERRORED) and step.exited_at is not None:
            key = (
                hour_of(step.exited_at / 1000),
                step.node_id,
                duration_bin(step.exited_at - step.entered_at),
            )
            found.durations[key] = found.durations.get(key, 0) + 1
    if path:
        found.paths[(first, tuple(path))] = 1
    return found


def _is_token(fact: RunEvent) -> bool:
    return (
        fact.kind in _TOKEN_KINDS
        and fact.node_id is not None
        and fact.node_type not in CHECKPOINT_TYPES
    )


def as_fact(row: Any) -> RunEvent:
    """A stored event row (``occurred_at`` a datetime) as the fact a run is made of."""
    return RunEvent(
        row.id,
        row.kind,
        row.source,
        row.occurred_at.timestamp() * 1000.0,
        row.node_id,
        row.node_type,
    )


def names_of(rows: Iterable[Any]) -> dict[tuple[str, str], tuple[str | None, str | None]]:
    """(flow, node) → the last type and name the rows give it."""
    names: dict[tuple[str, str], tuple[str | None, str | None]] = {}
    for row in rows:
        if row.flow_id is None or row.node_id is None:
            continue
        if row.node_type is None and row.node_name is None:
            continue
        before = names.get((row.flow_id, row.node_id), (None, None))
        names[(row.flow_id, row.node_id)] = (
            row.node_type or before[0],
            row.node_name or before[1],
        )
    return names
