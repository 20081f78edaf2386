"""Flows over the REST API: the flows flowtrack has seen, and one flow's statistics.

``GET /api/v1/flows`` lists every flow named by an event or a launch, in flow id order,
with its counts and its name (asked of Genesys once per flow:
receiver.launches.flow_names). ``GET /api/v1/flows/{flowId}/stats`` answers what
storage.flowstats computes over ``[since, until)``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from receiver.errors import NotFound
from receiver.resources import services
from receiver.web.models import RequestModel, Timestamp, WireModel, render
from receiver.web.operations import (
    INVALID_QUERY,
    STORAGE_UNAVAILABLE,
    Param,
    Reply,
    operation,
    page_of,
    query_params,
    string,
)
from receiver.web.pagination import Query, page
from receiver.web.responses import JSONResponse
from storage.flows import FlowSummary
from storage.flowstats import FlowStats as Computed
from storage.flowstats import NodeStats as ComputedNode
from storage.rollup_runs import RELATIVE_ERROR
from storage.vocabulary import STATES


class FlowNotFound(NotFound):
    """No event or launch of this flow is stored."""

    code = "flow_not_found"


_Count = Annotated[int, Field(ge=0)]
_Name = Annotated[
    str | None,
    Field(
        description="The flow's name in Genesys Cloud, asked once per flow and kept; null "
        "without Genesys credentials, while Genesys is unreachable, or for a flow it does "
        "not know."
    ),
]
_Ms = Annotated[float | None, Field(ge=0)]
_ByState = Annotated[
    dict[str, _Count],
    Field(
        description="Launches by state (every state, 0 when none).",
        json_schema_extra={"propertyNames": {"enum": list(STATES)}},
    ),
]


class Flow(WireModel):
    """A flow flowtrack has seen in events or launches."""

    flow_id: str
    name: _Name
    events: _Count
    launches: _Count
    launches_by_state: _ByState
    last_event_at: Timestamp | None = Field(description="The latest event's occurredAt.")
    last_launch_at: Timestamp | None = Field(description="The latest launch's createdAt.")
    last_seen_at: Timestamp | None = Field(description="The later of the two.")

    @classmethod
    def of(cls, flow: FlowSummary, name: str | None) -> Flow:
        """One flow of the list."""
        seen = [at for at in (flow.last_event_at, flow.last_launch_at) if at is not None]
        return cls.model_construct(
            flow_id=flow.flow_id,
            name=name,
            events=flow.events,
            launches=flow.launches,
            launches_by_state=dict.fromkeys(STATES, 0) | flow.launches_by_state,
            last_event_at=flow.last_event_at,
            last_launch_at=flow.last_launch_at,
            last_seen_at=max(seen) if seen else None,
        )


class LaunchCounts(WireModel):
    """The flow's launches in the window."""

    total: _Count
    by_state: _ByState


class Durations(WireModel):
    """Visit durations: each figure within 4.4 % of the visit's at that rank (log-spaced
    bins)."""

    p50: _Ms
    p95: _Ms
    max: _Ms
    visits: _Count

    @classmethod
    def of(cls, node: ComputedNode) -> Durations:
        """A node's durations from its bins."""
        return cls.model_construct(
            p50=_ms(node.duration(0.5)),
            p95=_ms(node.duration(0.95)),
            max=_ms(node.longest()),
            visits=node.visits,
        )


class NodeStats(WireModel):
    """One node's visits."""

    node_id: str
    node_type: str | None
    node_name: str | None
    entries: _Count
    exits: _Count
    errors: _Count
    open_now: _Count = Field(description="Visits still open in unfinished runs.")
    duration_ms: Durations


class PathCount(WireModel):
    """A path and how many runs took it."""

    node_ids: list[str]
    runs: _Count


class StuckAt(WireModel):
    """Where timed-out launches were when they timed out."""

    node_id: str | None
    node_name: str | None
    launches: _Count


class FlowEdge(WireModel):
    """Runs going from one node straight to the next (the flow graph's arrows)."""

    from_node_id: str
    to_node_id: str
    transitions: _Count


class DurationSample(WireModel):
    """How many runs the durations come from (all of them, from the rollups)."""

    runs: _Count
    of_runs: _Count


class StatsWindow(WireModel):
    """The window the statistics cover: the asked one rounded to whole hours."""

    since: Timestamp | None = Field(description="``since`` rounded down to the hour.")
    until: Timestamp | None = Field(description="``until`` rounded up to the hour.")


class StatsCoverage(WireModel):
    """Which part of the window still has its raw events, and how fresh the rollups are.

    Before ``rawEventsSince`` the events were deleted by retention: the statistics there
    come from the rollups alone (and a transition history is no longer available).
    """

    raw_events_since: Timestamp | None = Field(
        description="The flow's oldest stored event (null: none stored)."
    )
    aggregates_only: bool = Field(
        description="True when part of the window is covered by rollups alone: its events "
        "were deleted by retention (FLOWTRACK_RETENTION_DAYS)."
    )
    rollups_as_of: Timestamp | None = Field(
        description="When the rollups last took new events or launches."
    )
    duration_relative_error: float = Field(
        description="Largest relative error of p50, p95 and max (log-spaced bins)."
    )


class FlowStats(WireModel):
    """One flow's statistics over [since, until)."""

    flow_id: str
    name: _Name
    since: Timestamp | None
    until: Timestamp | None
    launches: LaunchCounts
    runs: _Count = Field(description="Runs (launches, else conversations, else executions).")
    nodes: list[NodeStats]
    paths: list[PathCount] = Field(description="The most frequent paths.")
    stuck: list[StuckAt] = Field(description="Where timed-out launches were when they timed out.")
    edges: list[FlowEdge] = Field(description="Transitions between nodes, most frequent first.")
    events: _Count = Field(description="The flow's events in the window.")
    window: StatsWindow
    coverage: StatsCoverage
    duration_sample: DurationSample

    @classmethod
    def of(
        cls, stats: Computed, name: str | None, since: datetime | None, until: datetime | None
    ) -> FlowStats:
        """The API's view of computed statistics."""
        nodes = sorted(stats.nodes, key=lambda node: (-node.entries, node.node_id))
        window = stats.window
        raw_since = stats.coverage.raw_events_since
        return cls.model_construct(
            flow_id=stats.flow_id,
            name=name,
            since=since,
            until=until,
            launches=LaunchCounts.model_construct(
                total=sum(stats.launches_by_state.values()), by_state=stats.launches_by_state
            ),
            runs=stats.runs,
            nodes=[
                NodeStats.model_construct(
                    node_id=node.node_id,
                    node_type=node.node_type,
                    node_name=node.node_name,
                    entries=node.entries,
                    exits=node.exits,
                    errors=node.errors,
                    open_now=node.open_now,
                    duration_ms=Durations.of(node),
                )
                for node in nodes
            ],
            paths=[PathCount.model_construct(node_ids=list(p), runs=n) for p, n in stats.paths],
            stuck=[
                StuckAt.model_construct(node_id=node_id, node_name=name, launches=count)
                for node_id, name, count in stats.stuck
            ],
            edges=[
                FlowEdge.model_construct(from_node_id=source, to_node_id=target, transitions=count)
                for source, target, count in stats.edges
            ],
            events=stats.events,
            window=StatsWindow.model_construct(
                since=window.at(window.since), until=window.at(window.until)
            ),
            coverage=StatsCoverage.model_construct(
                raw_events_since=raw_since,
                aggregates_only=stats.coverage.aggregates_only(window),
                rollups_as_of=stats.coverage.advanced_at,
                duration_relative_error=round(RELATIVE_ERROR, 4),
            ),
            duration_sample=DurationSample.model_construct(runs=stats.runs, of_runs=stats.runs),
        )


class FlowStatsQuery(RequestModel):
    """The window of ``GET /api/v1/flows/{flowId}/stats``: ``[since, until)``."""

    since: datetime | None = Field(
        None,
        description="Only events (by occurredAt) and launches (by createdAt) at or after this "
        "time.",
    )
    until: datetime | None = Field(None, description="Only those before this time.")


class FlowQuery(RequestModel):
    """``GET /api/v1/flows`` pages only."""

    limit: int = 0
    cursor: str | None = None


@operation(
    "listFlows",
    "The flows flowtrack has seen",
    tag="flows",
    access="read",
    description="In flow id order, with event and launch counts and names.",
    parameters=query_params(FlowQuery),
    replies={200: Reply("A page of flows.", page_of(Flow))},
    failures=(INVALID_QUERY, STORAGE_UNAVAILABLE),
)
async def get_flows(request: Request) -> Response:
    """``GET /api/v1/flows``: flows by id, with event and launch counts; paginated."""
    found = services(request)
    query: Query[FlowQuery] = Query.of(request.query_params, FlowQuery)
    limit = query.values.limit
    after = query.scalar_cursor(str)
    query.check()
    flows = await found.flow_store.list(after=after, limit=limit + 1)
    names = await found.flow_names.names(flow.flow_id for flow in flows[:limit])

    def flow_json(flow: FlowSummary) -> dict[str, Any]:
        return render(Flow.of(flow, names[flow.flow_id]))

    return JSONResponse(page(flows, limit, flow_json, lambda last: last.flow_id, query))


@operation(
    "getFlowStats",
    "One flow's statistics",
    tag="flows",
    access="read",
    description="Launches by final state; per node: entries, exits, errors, open now and "
    "duration p50/p95/max; the most frequent paths; the transitions between nodes; where "
    "timed-out launches were stuck. Read from the rollups (docs/rollups.md): the window is "
    "rounded to whole hours and the answer says which part has raw events.",
    parameters=(
        Param("flow_id", "path", string(minLength=1), "The flow id."),
        *query_params(FlowStatsQuery),
    ),
    replies={200: Reply("The statistics.", FlowStats)},
    failures=(INVALID_QUERY, FlowNotFound, STORAGE_UNAVAILABLE),
)
async def get_flow_stats(request: Request) -> Response:
    """``GET /api/v1/flows/{flow_id}/stats?since=&until=``: one flow's statistics."""
    found = services(request)
    flow_id = request.path_params["flow_id"]
    query = Query.of(request.query_params, FlowStatsQuery)
    since, until = query.values.since, query.values.until
    query.check()
    if not await found.flow_store.known(flow_id):
        raise FlowNotFound(f"no event or launch of flow {flow_id!r}")
    stats = await found.flow_store.stats(flow_id, since=since, until=until)
    name = (await found.flow_names.names([flow_id]))[flow_id]
    return JSONResponse(render(FlowStats.of(stats, name, since, until)))


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
