"""``/api/v2/flows``: discover flows, launch executions, read execution status (§3)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.errors import BadRequest
from sandbox.history_api import base_url
from sandbox.state import sandbox_of
from sandbox.wire import JSONResponse, entity_listing, query_list, read_object


async def list_flows(request: Request) -> Response:
    """``GET /api/v2/flows`` → ``FlowEntityListing`` (filters: type, id, name)."""
    sandbox = sandbox_of(request)
    types = {t.lower() for t in query_list(request, "type")}
    ids = set(query_list(request, "id"))
    name = (request.query_params.get("name") or "").strip("*").casefold()
    flows = [
        flow
        for flow in sandbox.catalog
        if (not types or flow.type in types)
        and (not ids or flow.id in ids)
        and name in flow.name.casefold()
    ]
    flows.sort(
        key=lambda f: f.name.casefold(), reverse=request.query_params.get("sortOrder") == "desc"
    )
    listing = entity_listing(request, [sandbox.catalog.flow_json(f) for f in flows])
    return JSONResponse(listing)


async def get_flow(request: Request) -> Response:
    """``GET /api/v2/flows/{flowId}`` → ``Flow``."""
    sandbox = sandbox_of(request)
    flow = sandbox.catalog.get(request.path_params["flowId"])
    return JSONResponse(sandbox.catalog.flow_json(flow))


def _optional_text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise BadRequest(f"'{key}' must be a string.", code="invalid.value")
    return value or None


async def launch_execution(request: Request) -> Response:
    """``POST /api/v2/flows/executions`` → ``FlowExecutionLaunchResponse``."""
    sandbox = sandbox_of(request)
    body = await read_object(request)
    flow_id = _optional_text(body, "flowId")
    if flow_id is None:
        raise BadRequest("'flowId' is required.", code="invalid.value")
    name = _optional_text(body, "name")
    version = _optional_text(body, "flowVersion")
    input_data = body.get("inputData") or {}
    if not isinstance(input_data, dict):
        raise BadRequest("'inputData' must be an object.", code="invalid.value")
    flow = sandbox.catalog.get(flow_id)
    if version is not None and version != flow.version:
        raise BadRequest(
            f"Flow {flow.id} has no published version {version}.", code="invalid.value"
        )
    if not flow.launchable:
        raise BadRequest(f"Flows of type {flow.type.upper()} cannot be launched through the API.")
    execution = sandbox.engine.start(flow, name or flow.name, input_data)
    sandbox.history.base_url = base_url(request)
    sandbox.stats.incr("launches")
    return JSONResponse(
        {
            "id": execution.id,
            "name": execution.name,
            "flowVersion": {
                "id": flow.version,
                "name": flow.version,
                "selfUri": f"/api/v2/flows/{flow.id}/versions/{flow.version}",
            },
            "selfUri": f"/api/v2/flows/executions/{execution.id}",
        }
    )


async def get_execution(request: Request) -> Response:
    """``GET /api/v2/flows/executions/{flowExecutionId}`` → ``FlowRuntimeExecution``."""
    sandbox = sandbox_of(request)
    execution = sandbox.executions.get(request.path_params["flowExecutionId"])
    sandbox.stats.incr("executions.status_reads")
    return JSONResponse(execution.to_json(sandbox.catalog.version_json(execution.flow)))


routes = [
    Route("/api/v2/flows", list_flows, methods=["GET"]),
    Route("/api/v2/flows/executions", launch_execution, methods=["POST"]),
    Route("/api/v2/flows/executions/{flowExecutionId}", get_execution, methods=["GET"]),
    Route("/api/v2/flows/{flowId}", get_flow, methods=["GET"]),
]
