"""Test-only controls under ``/sandbox/`` (never under ``/api/v2``; no auth, no faults).

``GET/PUT/DELETE /sandbox/faults``            read / merge a patch into / switch off faults
``GET /sandbox/stats``                        counters, executions by status, running runs
``GET /sandbox/executions/{id}``              an execution with its input and node trail
``POST /sandbox/executions/{id}/terminate``   force a running execution to TERMINATED
``POST /sandbox/interactions``                start any flow as if media arrived
``POST /sandbox/tokens/expire``               expire every issued token (401 next time)
``POST /sandbox/reset``                       forget runs, conversations, integrations,
                                              channels, faults, stats and rate windows
                                              (the sample actions come back)
``GET /sandbox/health``                       liveness

Channel controls live in :mod:`sandbox.channel_controls`.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.action_runtime import actions_of
from sandbox.errors import BadRequest, Conflict
from sandbox.history_api import base_url
from sandbox.run import Termination
from sandbox.state import sandbox_of
from sandbox.wire import JSONResponse, read_json, read_object


async def get_faults(request: Request) -> Response:
    return JSONResponse(sandbox_of(request).faults.settings.to_json())


async def put_faults(request: Request) -> Response:
    """Merge a partial ``{"deliveries": {...}, "api": {...}}`` into the current faults."""
    faults = sandbox_of(request).faults
    return JSONResponse(faults.update(await read_json(request)).to_json())


async def delete_faults(request: Request) -> Response:
    faults = sandbox_of(request).faults
    faults.reset()
    return JSONResponse(faults.settings.to_json())


async def get_stats(request: Request) -> Response:
    sandbox = sandbox_of(request)
    document = sandbox.stats.to_json()
    document["executions"] = sandbox.executions.count_by_status()
    document["running"] = sandbox.engine.running
    return JSONResponse(document)


async def get_execution(request: Request) -> Response:
    sandbox = sandbox_of(request)
    execution = sandbox.executions.get(request.path_params["executionId"])
    return JSONResponse(
        {
            "execution": execution.to_json(sandbox.catalog.version_json(execution.flow)),
            "flowId": execution.flow.id,
            "launchId": execution.launch_id,
            "inputData": execution.input_data,
            "trail": execution.trail,
        }
    )


async def terminate_execution(request: Request) -> Response:
    sandbox = sandbox_of(request)
    execution = sandbox.executions.get(request.path_params["executionId"])
    termination = Termination("Terminated by the sandbox control API")
    if not await sandbox.engine.terminate_and_wait(execution.id, termination):
        raise Conflict(f"Execution {execution.id} is not running (status {execution.status}).")
    return JSONResponse({"id": execution.id, "status": execution.status})


async def start_interaction(request: Request) -> Response:
    """``{"flowId", "inputData"?, "name"?}`` → ``{"executionId", "conversationId"}``."""
    sandbox = sandbox_of(request)
    body = await read_object(request)
    flow = sandbox.catalog.get(str(body.get("flowId", "")))
    input_data = body.get("inputData") or {}
    if not isinstance(input_data, dict):
        raise BadRequest("'inputData' must be an object.")
    execution = sandbox.engine.start(flow, str(body.get("name") or flow.name), input_data)
    sandbox.history.base_url = base_url(request)  # where its history link will point
    return JSONResponse({"executionId": execution.id, "conversationId": execution.conversation_id})


async def expire_tokens(request: Request) -> Response:
    return JSONResponse({"expired": sandbox_of(request).tokens.expire_all()})


async def reset(request: Request) -> Response:
    await sandbox_of(request).reset()
    actions_of(request).reset()
    return JSONResponse({"reset": True})


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


routes = [
    Route("/sandbox/faults", get_faults, methods=["GET"]),
    Route("/sandbox/faults", put_faults, methods=["PUT"]),
    Route("/sandbox/faults", delete_faults, methods=["DELETE"]),
    Route("/sandbox/stats", get_stats, methods=["GET"]),
    Route("/sandbox/executions/{executionId}", get_execution, methods=["GET"]),
    Route("/sandbox/executions/{executionId}/terminate", terminate_execution, methods=["POST"]),
    Route("/sandbox/interactions", start_interaction, methods=["POST"]),
    Route("/sandbox/tokens/expire", expire_tokens, methods=["POST"]),
    Route("/sandbox/reset", reset, methods=["POST"]),
    Route("/sandbox/health", health, methods=["GET"]),
]
