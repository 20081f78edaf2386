"""``/ui/flows`` and ``/ui/flows/{id}``: the flows seen, and one flow as observed.

A flow's page draws its graph (storage's flow statistics: the nodes with their
entries, errors and p95 duration; the transitions between them) with a layered layout
(receiver.console.graph), and lists its most taken paths and where timed-out runs
were stuck, over a chosen time range.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from receiver.console.auth import signed_in
from receiver.console.graph import GraphNode, edges_from_paths, layout, starts_of
from receiver.console.launches import InvalidFilter
from receiver.console.rendering import PREFIX, page
from receiver.resources import services
from storage.flowstats import FlowStats
from storage.vocabulary import FAILED, LAUNCH_FAILED, TERMINAL_STATES, TIMED_OUT

PAGE = 50
#: The time ranges a flow's page offers, by their name in the address.
RANGES: dict[str, timedelta | None] = {
    "1h": timedelta(hours=1),
    "24h": timedelta(days=1),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "all": None,
}
DEFAULT_RANGE = "7d"
UNSUCCESSFUL = (FAILED, TIMED_OUT, LAUNCH_FAILED)


def failure_rate(by_state: dict[str, int]) -> float | None:
    """The share of ended launches that did not complete (None: none ended)."""
    ended = sum(n for state, n in by_state.items() if state in TERMINAL_STATES)
    if not ended:
        return None
    return sum(by_state.get(state, 0) for state in UNSUCCESSFUL) / ended


@signed_in()
async def flows(request: Request) -> Response:
    """``GET /ui/flows``: the flows seen, in flow id order, a page at a time."""
    found = services(request)
    after = request.query_params.get("after") or None
    listed = await found.flow_store.list(after=after, limit=PAGE + 1)
    shown = listed[:PAGE]
    names = await found.flow_names.names([flow.flow_id for flow in shown])
    rows = [
        {
            "flow": flow,
            "name": names.get(flow.flow_id),
            "failure_rate": failure_rate(flow.launches_by_state),
            "p95_ms": getattr(flow, "p95_duration_ms", None),
        }
        for flow in shown
    ]
    following = None
    if len(listed) > PAGE:
        following = f"{PREFIX}/flows?" + urlencode({"after": shown[-1].flow_id})
    context = {"nav": "flows", "rows": rows, "next": following, "first": bool(after)}
    return page(request, "flows.html", context)


@signed_in()
async def flow(request: Request) -> Response:
    """``GET /ui/flows/{flow_id}``: the flow's graph, paths and stuck runs over a range."""
    found = services(request)
    flow_id = request.path_params["flow_id"]
    chosen = request.query_params.get("range") or DEFAULT_RANGE
    if chosen not in RANGES:
        raise InvalidFilter(f"range: {chosen!r} is not one of {', '.join(RANGES)}")
    span = RANGES[chosen]
    now = datetime.now(UTC)
    since = now - span if span is not None else None
    stats = await found.flow_store.stats(flow_id, since=since)
    names = await found.flow_names.names([flow_id])
    edges, derived = _edges(stats)
    stuck_at = {node_id: n for node_id, _name, n in stats.stuck if node_id is not None}
    nodes = [
        GraphNode(
            node.node_id,
            node.node_name,
            node.entries,
            node.errors,
            node_p95(node),
            stuck=stuck_at.get(node.node_id, 0),
        )
        for node in sorted(stats.nodes, key=lambda node: -node.entries)
    ]
    graph = layout(nodes, edges, starts_of(stats.paths))
    node_names = {node.id: node.label for node in graph.nodes}
    context: dict[str, Any] = {
        "nav": "flows",
        "flow_id": flow_id,
        "flow_name": names.get(flow_id),
        "stats": stats,
        "known": await found.flow_store.known(flow_id) if not stats.runs else True,
        "graph": graph,
        "edges_derived": derived,
        "node_names": node_names,
        "launches": sum(stats.launches_by_state.values()),
        "failure_rate": failure_rate(stats.launches_by_state),
        "ranges": list(RANGES),
        "range": chosen,
        "since": since,
    }
    return page(request, "flow.html", context)


def _edges(stats: FlowStats) -> tuple[list[tuple[str, str, int]], bool]:
    """The observed transitions; from the top paths while the statistics carry no edges."""
    given = getattr(stats, "edges", None)
    if given is None:
        return edges_from_paths(stats.paths), True
    found = []
    for edge in given:
        if isinstance(edge, tuple):
            source, target, count = edge
        else:
            source, target, count = edge.from_node_id, edge.to_node_id, edge.transitions
        found.append((source, target, int(count)))
    return found, False


def node_p95(node: Any) -> float | None:
    """A node's p95 visit duration in ms, from its duration histogram (or its samples)."""
    if callable(getattr(node, "duration", None)):
        found: float | None = node.duration(0.95)
        return found
    ordered = sorted(getattr(node, "durations_ms", ()))
    if not ordered:
        return None
    return float(ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))])
