"""Flows over the REST API: the flows flowtrack has seen, and one flow's statistics.

``GET /api/v1/flows`` lists every flow named by an event or a launch, in flow id order,
with its counts. ``GET /api/v1/flows/{flowId}/stats`` answers what storage.flowstats
computes over ``[since, until)``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from receiver.errors import FlowtrackError
from receiver.resources import services
from receiver.web.openapi import (
    CURSOR,
    INVALID_QUERY,
    LIMIT,
    STORAGE_UNAVAILABLE,
    Component,
    Param,
    Reply,
    date_time,
    integer,
    nullable,
    obj,
    operation,
    page_of,
    since_until,
    string,
)
from receiver.web.pagination import Query, page
from receiver.web.responses import JSONResponse, timestamp
from storage import launches as launch_store
from storage.flowruns import RUN_SHARDS, count_runs, merge_runs
from storage.flows import FlowSummary, flow_known, list_flows
from storage.flowstats import (
    FlowStats,
    assemble,
    count_launches,
    percentile,
    sample_durations,
)


class FlowNotFound(FlowtrackError):
    """No event or launch of this flow is stored."""

    status = 404
    code = "flow_not_found"


_BY_STATE = {
    "type": "object",
    "description": "Launches by state (every state, 0 when none).",
    "propertyNames": {"enum": list(launch_store.STATES)},
    "additionalProperties": integer(minimum=0),
}
_COUNT = integer(minimum=0)
_MS = nullable({"type": "number", "minimum": 0})

FLOW = Component(
    "Flow",
    obj(
        {
            "flowId": string(),
            "events": _COUNT,
            "launches": _COUNT,
            "launchesByState": _BY_STATE,
            "lastEventAt": nullable(date_time("The latest event's occurredAt.")),
            "lastLaunchAt": nullable(date_time("The latest launch's createdAt.")),
            "lastSeenAt": nullable(date_time("The later of the two.")),
        },
        "A flow flowtrack has seen in events or launches.",
    ),
)

FLOW_STATS = Component(
    "FlowStats",
    obj(
        {
            "flowId": string(),
            "since": nullable(date_time()),
            "until": nullable(date_time()),
            "launches": obj({"total": _COUNT, "byState": _BY_STATE}),
            "runs": integer("Runs (launches, else conversations, else executions).", minimum=0),
            "nodes": {
                "type": "array",
                "items": obj(
                    {
                        "nodeId": string(),
                        "nodeType": nullable(string()),
                        "nodeName": nullable(string()),
                        "entries": _COUNT,
                        "exits": _COUNT,
                        "errors": _COUNT,
                        "openNow": integer("Visits still open in unfinished runs.", minimum=0),
                        "durationMs": obj(
                            {"p50": _MS, "p95": _MS, "max": _MS, "visits": _COUNT},
                            "Visit durations (from a sample of runs on large flows).",
                        ),
                    }
                ),
            },
            "paths": {
                "type": "array",
                "description": "The most frequent paths.",
                "items": obj({"nodeIds": {"type": "array", "items": string()}, "runs": _COUNT}),
            },
            "stuck": {
                "type": "array",
                "description": "Where timed-out launches were when they timed out.",
                "items": obj(
                    {
                        "nodeId": nullable(string()),
                        "nodeName": nullable(string()),
                        "launches": _COUNT,
                    }
                ),
            },
            "durationSample": obj({"runs": _COUNT, "ofRuns": _COUNT}),
        },
        "One flow's statistics over [since, until).",
    ),
)


@operation(
    "listFlows",
    "The flows flowtrack has seen",
    tag="flows",
    access="read",
    description="In flow id order, with event and launch counts.",
    parameters=(LIMIT, CURSOR),
    replies={200: Reply("A page of flows.", page_of(FLOW))},
    failures=(INVALID_QUERY, STORAGE_UNAVAILABLE),
)
async def get_flows(request: Request) -> Response:
    """``GET /api/v1/flows``: flows by id, with event and launch counts; paginated."""
    found = services(request)
    found.api_keys.require(request)
    query = Query(request.query_params, ("limit", "cursor"))
    limit = query.limit()
    after = query.scalar_cursor(str)
    query.check()
    flows = await run_in_threadpool(list_flows, found.engine, after=after, limit=limit + 1)
    return JSONResponse(page(flows, limit, flow_json, lambda last: last.flow_id))


@operation(
    "getFlowStats",
    "One flow's statistics",
    tag="flows",
    access="read",
    description="Launches by final state; per node: entries, exits, errors, open now and "
    "duration p50/p95/max; the most frequent paths; where timed-out launches were stuck.",
    parameters=(
        Param("flow_id", "path", string(minLength=1), "The flow id."),
        *since_until("occurredAt (events) or createdAt (launches)"),
    ),
    replies={200: Reply("The statistics.", FLOW_STATS)},
    failures=(INVALID_QUERY, FlowNotFound, STORAGE_UNAVAILABLE),
)
async def get_flow_stats(request: Request) -> Response:
    """``GET /api/v1/flows/{flow_id}/stats?since=&until=``: one flow's statistics."""
    found = services(request)
    found.api_keys.require(request)
    flow_id = request.path_params["flow_id"]
    query = Query(request.query_params, ("since", "until"))
    since = query.timestamp("since")
    until = query.timestamp("until")
    if since is not None and until is not None and until <= since:
        query.problems.append({"field": "until", "problem": "must be later than since"})
    query.check()
    if not await run_in_threadpool(flow_known, found.engine, flow_id):
        raise FlowNotFound(f"no event or launch of flow {flow_id!r}")
    # Independent passes (the first in shards), each in its own thread and connection:
    # the database works on them side by side.
    engine = found.engine
    shards, durations, launched = await asyncio.gather(
        asyncio.gather(
            *(
                run_in_threadpool(count_runs, engine, flow_id, since, until, shard)
                for shard in RUN_SHARDS
            )
        ),
        run_in_threadpool(sample_durations, engine, flow_id, since, until),
        run_in_threadpool(count_launches, engine, flow_id, since, until),
    )
    stats = assemble(flow_id, merge_runs(shards), durations, launched)
    body = {"flowId": flow_id, "since": timestamp(since), "until": timestamp(until)}
    return JSONResponse(body | stats_json(stats))


def flow_json(flow: FlowSummary) -> dict[str, Any]:
    """One flow of the list."""
    seen = [moment for moment in (flow.last_event_at, flow.last_launch_at) if moment is not None]
    return {
        "flowId": flow.flow_id,
        "events": flow.events,
        "launches": flow.launches,
        "launchesByState": dict.fromkeys(launch_store.STATES, 0) | flow.launches_by_state,
        "lastEventAt": timestamp(flow.last_event_at),
        "lastLaunchAt": timestamp(flow.last_launch_at),
        "lastSeenAt": timestamp(max(seen)) if seen else None,
    }


def stats_json(stats: FlowStats) -> dict[str, Any]:
    """A flow's statistics as the API shows them."""
    nodes = sorted(stats.nodes, key=lambda node: (-node.entries, node.node_id))
    return {
        "launches": {
            "total": sum(stats.launches_by_state.values()),
            "byState": stats.launches_by_state,
        },
        "runs": stats.runs,
        "nodes": [
            {
                "nodeId": node.node_id,
                "nodeType": node.node_type,
                "nodeName": node.node_name,
                "entries": node.entries,
                "exits": node.exits,
                "errors": node.errors,
                "openNow": node.open_now,
                "durationMs": {
                    "p50": _ms(percentile(node.durations_ms, 0.5)),
                    "p95": _ms(percentile(node.durations_ms, 0.95)),
                    "max": _ms(node.durations_ms[-1] if node.durations_ms else None),
                    "visits": len(node.durations_ms),
                },
            }
            for node in nodes
        ],
        "paths": [{"nodeIds": list(path), "runs": runs} for path, runs in stats.paths],
        "stuck": [
            {"nodeId": node_id, "nodeName": node_name, "launches": count}
            for node_id, node_name, count in stats.stuck
        ],
        "durationSample": {"runs": stats.sampled_runs, "ofRuns": stats.runs},
    }


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
