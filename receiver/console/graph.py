"""A flow as observed, laid out in layers on the server for an SVG drawing.

Nodes are what the flow's runs entered; edges are the transitions between them with
how often each was taken. The layout is the classic layered one, small enough to
compute per request, led by the transitions that carry the runs (those with at least
:data:`LEADING_SHARE` of the busiest one's count — a retry taken by a handful of runs
must not reshape the drawing):

1. loops are found by a depth-first search from the nodes runs start at, following the
   busiest transitions first: a transition back to a node on the current path closes a
   loop;
2. each node goes one layer below its furthest predecessor (over the other transitions);
3. each layer is ordered by the mean position of its neighbours above, then below.

A transition to the next layer is drawn straight down; one that skips layers goes round
the left-hand side, one that goes back up (a loop, a retry) or stays in its layer round
the right-hand side, dashed, each on its own lane so their counts do not overlap.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

NODE_WIDTH: Final = 190
NODE_HEIGHT: Final = 58
GAP_X: Final = 40
GAP_Y: Final = 62
MARGIN: Final = 24
LANE: Final = 22
SWEEPS: Final = 4
#: Transitions with less than this share of the busiest one's count do not shape the layout.
LEADING_SHARE: Final = 0.01


@dataclass
class GraphNode:
    """An observed node with what its runs did there."""

    id: str
    name: str | None
    entries: int
    errors: int
    p95_ms: float | None
    stuck: int = 0
    layer: int = 0
    x: float = 0.0
    y: float = 0.0

    @property
    def label(self) -> str:
        return self.name or self.id


@dataclass
class GraphEdge:
    """A transition from one node to the next, and how many runs took it."""

    source: str
    target: str
    transitions: int
    #: Drawn round the right-hand side: back up, or within its layer.
    back: bool = False
    #: Taken by too few runs to shape the layout (drawn faint).
    minor: bool = False
    path: str = ""
    label_x: float = 0.0
    label_y: float = 0.0
    stroke: float = 1.5


@dataclass
class Graph:
    """The laid-out drawing."""

    nodes: list[GraphNode]
    edges: list[GraphEdge]
    width: float
    height: float
    layers: int = 0
    by_id: dict[str, GraphNode] = field(default_factory=dict)


def edges_from_paths(paths: Iterable[tuple[tuple[str, ...], int]]) -> list[tuple[str, str, int]]:
    """Transitions counted along paths (each path's consecutive nodes, times its runs)."""
    counted: dict[tuple[str, str], int] = {}
    for path, runs in paths:
        for source, target in itertools.pairwise(path):
            counted[(source, target)] = counted.get((source, target), 0) + runs
    return [(source, target, runs) for (source, target), runs in counted.items()]


def starts_of(paths: Iterable[tuple[tuple[str, ...], int]]) -> dict[str, int]:
    """How many runs (of these paths) started at each node."""
    starts: dict[str, int] = {}
    for path, runs in paths:
        if path:
            starts[path[0]] = starts.get(path[0], 0) + runs
    return starts


def layout(
    nodes: list[GraphNode],
    edges: list[tuple[str, str, int]],
    starts: Mapping[str, int] | None = None,
) -> Graph:
    """Place ``nodes`` in layers and route ``edges`` (unknown endpoints get a node);
    ``starts``: how many runs began at each node (where the layout begins)."""
    by_id = {node.id: node for node in nodes}
    for source, target, _ in edges:
        for end in (source, target):
            if end not in by_id:
                by_id[end] = GraphNode(end, None, 0, 0, None)
                nodes.append(by_id[end])
    drawn = [GraphEdge(s, t, n) for s, t, n in edges if n > 0]
    most = max((edge.transitions for edge in drawn), default=1)
    leading = [edge for edge in drawn if edge.transitions >= most * LEADING_SHARE]
    for edge in drawn:
        edge.minor = edge.transitions < most * LEADING_SHARE
    closing = _loops(nodes, leading, starts or {})
    forward = [e for e in leading if (e.source, e.target) not in closing and e.source != e.target]
    _assign_layers(nodes, forward)
    layers = _order(nodes, forward)
    left = [e for e in drawn if by_id[e.target].layer > by_id[e.source].layer + 1]
    right = [e for e in drawn if by_id[e.target].layer <= by_id[e.source].layer]
    widest = max((len(layer) for layer in layers), default=1)
    row_width = widest * (NODE_WIDTH + GAP_X) - GAP_X
    inset = MARGIN + LANE * len(left)
    width = inset + row_width + MARGIN + LANE * len(right) + 20
    for depth, layer in enumerate(layers):
        shift = (row_width - (len(layer) * (NODE_WIDTH + GAP_X) - GAP_X)) / 2
        for index, node in enumerate(layer):
            node.x = round(inset + shift + index * (NODE_WIDTH + GAP_X), 1)
            node.y = MARGIN + depth * (NODE_HEIGHT + GAP_Y)
    for edge in drawn:
        edge.stroke = round(1.2 + 3.5 * math.log1p(edge.transitions) / math.log1p(most), 2)
        if edge not in left and edge not in right:
            _down(edge, by_id)
    for lane, edge in enumerate(sorted(left, key=_span(by_id))):
        _around(edge, by_id, inset - LANE * (lane + 1), side=-1)
    for lane, edge in enumerate(sorted(right, key=_span(by_id))):
        edge.back = True
        _around(edge, by_id, inset + row_width + LANE * (lane + 1), side=1)
    height = MARGIN * 2 + len(layers) * (NODE_HEIGHT + GAP_Y) - GAP_Y
    return Graph(nodes, drawn, width, max(height, NODE_HEIGHT + 2 * MARGIN), len(layers), by_id)


def _loops(
    nodes: list[GraphNode], edges: list[GraphEdge], starts: Mapping[str, int]
) -> set[tuple[str, str]]:
    """The transitions that close a loop, by a depth-first search, busiest first."""
    outgoing: dict[str, list[GraphEdge]] = {node.id: [] for node in nodes}
    incoming = dict.fromkeys(outgoing, 0)
    for edge in sorted(edges, key=lambda edge: -edge.transitions):
        outgoing[edge.source].append(edge)
        if edge.source != edge.target:
            incoming[edge.target] += 1
    roots = sorted(
        nodes, key=lambda node: (-starts.get(node.id, 0), incoming[node.id] > 0, -node.entries)
    )
    closing: set[tuple[str, str]] = set()
    state: dict[str, int] = {}
    for root in roots:
        if root.id in state:
            continue
        stack = [(root.id, iter(outgoing[root.id]))]
        state[root.id] = 1
        while stack:
            current, pending = stack[-1]
            following = next(pending, None)
            if following is None:
                state[current] = 2
                stack.pop()
                continue
            seen = state.get(following.target)
            if seen == 1:
                closing.add((following.source, following.target))
            elif seen is None:
                state[following.target] = 1
                stack.append((following.target, iter(outgoing[following.target])))
    return closing


def _assign_layers(nodes: list[GraphNode], forward: list[GraphEdge]) -> None:
    predecessors: dict[str, list[str]] = {node.id: [] for node in nodes}
    for edge in forward:
        predecessors[edge.target].append(edge.source)
    depth: dict[str, int] = {}
    for node in nodes:
        # Iterative longest path from the entries (the forward edges form no cycle).
        stack = [node.id]
        while stack:
            current = stack[-1]
            waiting = [p for p in predecessors[current] if p not in depth]
            if waiting:
                stack.extend(waiting)
                continue
            stack.pop()
            depth[current] = 1 + max((depth[p] for p in predecessors[current]), default=-1)
        node.layer = depth[node.id]


def _order(nodes: list[GraphNode], forward: list[GraphEdge]) -> list[list[GraphNode]]:
    count = max((node.layer for node in nodes), default=-1) + 1
    layers: list[list[GraphNode]] = [[] for _ in range(count)]
    for node in sorted(nodes, key=lambda node: -node.entries):
        layers[node.layer].append(node)
    above: dict[str, list[str]] = {node.id: [] for node in nodes}
    below: dict[str, list[str]] = {node.id: [] for node in nodes}
    for edge in forward:
        above[edge.target].append(edge.source)
        below[edge.source].append(edge.target)
    for sweep in range(SWEEPS):
        downward = sweep % 2 == 0
        order = range(1, count) if downward else range(count - 2, -1, -1)
        for depth in order:
            neighbour = layers[depth - 1] if downward else layers[depth + 1]
            position = {node.id: index for index, node in enumerate(neighbour)}
            links = above if downward else below
            current = {node.id: index for index, node in enumerate(layers[depth])}
            layers[depth].sort(key=functools.partial(_centre, position, links, current))
    return layers


def _centre(
    position: dict[str, int], links: dict[str, list[str]], current: dict[str, int], node: GraphNode
) -> float:
    """Where ``node`` sits by its neighbours (the mean of their positions), else where it is."""
    linked = [position[other] for other in links[node.id] if other in position]
    return sum(linked) / len(linked) if linked else current[node.id]


def _span(by_id: dict[str, GraphNode]) -> functools.partial[int]:
    return functools.partial(_layers_apart, by_id)


def _layers_apart(by_id: dict[str, GraphNode], edge: GraphEdge) -> int:
    # Short detours on the inner lanes, long ones outside them: fewer crossings.
    return abs(by_id[edge.target].layer - by_id[edge.source].layer)


def _down(edge: GraphEdge, by_id: dict[str, GraphNode]) -> None:
    source, target = by_id[edge.source], by_id[edge.target]
    x1, y1 = source.x + NODE_WIDTH / 2, source.y + NODE_HEIGHT
    x2, y2 = target.x + NODE_WIDTH / 2, target.y
    middle = (y1 + y2) / 2
    edge.path = f"M{x1:.1f},{y1:.1f} C{x1:.1f},{middle:.1f} {x2:.1f},{middle:.1f} {x2:.1f},{y2:.1f}"
    edge.label_x, edge.label_y = (x1 + x2) / 2, middle


def _around(edge: GraphEdge, by_id: dict[str, GraphNode], lane: float, *, side: int) -> None:
    """Out of the source's side, along ``lane``, into the target's side."""
    source, target = by_id[edge.source], by_id[edge.target]
    out_x = source.x + (NODE_WIDTH if side > 0 else 0)
    in_x = target.x + (NODE_WIDTH if side > 0 else 0)
    y1 = source.y + NODE_HEIGHT * 0.65
    y2 = target.y + NODE_HEIGHT * 0.35
    bend = 10 * side
    edge.path = (
        f"M{out_x:.1f},{y1:.1f} L{lane - bend:.1f},{y1:.1f} Q{lane:.1f},{y1:.1f} "
        f"{lane:.1f},{y1 + (10 if y2 > y1 else -10):.1f} L{lane:.1f},"
        f"{y2 - (10 if y2 > y1 else -10):.1f} Q{lane:.1f},{y2:.1f} {lane - bend:.1f},{y2:.1f} "
        f"L{in_x:.1f},{y2:.1f}"
    )
    edge.label_x, edge.label_y = lane, (y1 + y2) / 2
