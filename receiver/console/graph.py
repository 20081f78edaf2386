"""A flow as observed, laid out in layers on the server for an SVG drawing.

Nodes are what the flow's runs entered; edges are the transitions between them with
how often each was taken. The layout is the classic layered one, small enough to
compute per request: edges that close a loop are set aside (a depth-first search from
the entry nodes), each node goes one layer below its furthest predecessor, and each
layer is ordered by the mean position of its neighbours in the layer above, then the
layer below. Loops are drawn as curves on the side, so they never cross the layers.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

NODE_WIDTH: Final = 190
NODE_HEIGHT: Final = 58
GAP_X: Final = 40
GAP_Y: Final = 62
MARGIN: Final = 24
SWEEPS: Final = 4


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
    back: bool = False
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


def layout(nodes: list[GraphNode], edges: list[tuple[str, str, int]]) -> Graph:
    """Place ``nodes`` in layers and route ``edges`` (unknown endpoints get a node)."""
    by_id = {node.id: node for node in nodes}
    for source, target, _ in edges:
        for end in (source, target):
            if end not in by_id:
                by_id[end] = GraphNode(end, None, 0, 0, None)
                nodes.append(by_id[end])
    drawn = [GraphEdge(s, t, n) for s, t, n in edges if n > 0]
    _mark_back_edges(nodes, drawn)
    forward = [edge for edge in drawn if not edge.back and edge.source != edge.target]
    _assign_layers(nodes, forward)
    layers = _order(nodes, forward)
    width = max((len(layer) for layer in layers), default=0) * (NODE_WIDTH + GAP_X) - GAP_X
    width = max(width, NODE_WIDTH) + 2 * MARGIN + 80  # room for the loops on the right
    for depth, layer in enumerate(layers):
        row_width = len(layer) * (NODE_WIDTH + GAP_X) - GAP_X
        left = (width - 80 - row_width) / 2
        for index, node in enumerate(layer):
            node.x = round(left + index * (NODE_WIDTH + GAP_X), 1)
            node.y = MARGIN + depth * (NODE_HEIGHT + GAP_Y)
    most = max((edge.transitions for edge in drawn), default=1)
    for edge in drawn:
        _route(edge, by_id, width)
        edge.stroke = round(1.2 + 3.5 * math.log1p(edge.transitions) / math.log1p(most), 2)
    height = MARGIN * 2 + len(layers) * (NODE_HEIGHT + GAP_Y) - GAP_Y
    return Graph(nodes, drawn, width, max(height, NODE_HEIGHT + 2 * MARGIN), len(layers), by_id)


def _mark_back_edges(nodes: list[GraphNode], edges: list[GraphEdge]) -> None:
    outgoing: dict[str, list[GraphEdge]] = {node.id: [] for node in nodes}
    incoming = {node.id: 0 for node in nodes}
    for edge in edges:
        outgoing[edge.source].append(edge)
        if edge.source != edge.target:
            incoming[edge.target] += 1
    # Entry nodes first (nothing leads to them), then the most entered: the start of a run.
    roots = sorted(nodes, key=lambda node: (incoming[node.id] > 0, -node.entries))
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
                following.back = True
            elif seen is None:
                state[following.target] = 1
                stack.append((following.target, iter(outgoing[following.target])))


def _assign_layers(nodes: list[GraphNode], forward: list[GraphEdge]) -> None:
    predecessors: dict[str, list[str]] = {node.id: [] for node in nodes}
    for edge in forward:
        predecessors[edge.target].append(edge.source)
    depth: dict[str, int] = {}

    def layer_of(node_id: str) -> int:
        # Iterative longest path from the entries (the forward edges form no cycle).
        stack = [node_id]
        while stack:
            current = stack[-1]
            waiting = [p for p in predecessors[current] if p not in depth]
            if waiting:
                stack.extend(waiting)
                continue
            stack.pop()
            depth[current] = 1 + max((depth[p] for p in predecessors[current]), default=-1)
        return depth[node_id]

    for node in nodes:
        node.layer = layer_of(node.id)


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


def _route(edge: GraphEdge, by_id: dict[str, GraphNode], width: float) -> None:
    source, target = by_id[edge.source], by_id[edge.target]
    if not edge.back and edge.source != edge.target:
        x1, y1 = source.x + NODE_WIDTH / 2, source.y + NODE_HEIGHT
        x2, y2 = target.x + NODE_WIDTH / 2, target.y
        middle = (y1 + y2) / 2
        edge.path = (
            f"M{x1:.1f},{y1:.1f} C{x1:.1f},{middle:.1f} {x2:.1f},{middle:.1f} {x2:.1f},{y2:.1f}"
        )
        edge.label_x, edge.label_y = (x1 + x2) / 2, middle
        return
    # A loop (back to an earlier or the same node): around the right-hand side.
    x1, y1 = source.x + NODE_WIDTH, source.y + NODE_HEIGHT * 0.65
    x2, y2 = target.x + NODE_WIDTH, target.y + NODE_HEIGHT * 0.35
    side = max(x1, x2) + 40 + min(30.0, abs(y1 - y2) / 8)
    side = min(side, width - 8)
    edge.path = f"M{x1:.1f},{y1:.1f} C{side:.1f},{y1:.1f} {side:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"
    edge.label_x, edge.label_y = side - 6, (y1 + y2) / 2
