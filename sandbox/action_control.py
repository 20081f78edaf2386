"""Test controls for data actions under ``/sandbox/actions/`` (no auth, no faults).

``GET /sandbox/actions/executions[?actionId=]``  per action: ``executed`` (execute calls
    whose request was sent to the remote endpoint), ``tested`` (the same for test),
    ``outcomes`` (how the execute calls ended), plus ``total`` and what the stub
    service ``received`` per route
``DELETE /sandbox/actions/executions``  zero those counts (the limits' windows too)
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.action_runtime import actions_of
from sandbox.state import sandbox_of
from sandbox.wire import JSONResponse


async def get_executions(request: Request) -> Response:
    runtime = actions_of(request)
    names = {a.id: a.name for a in sandbox_of(request).integrations.actions.values()}
    document = runtime.counter.to_json(names, request.query_params.get("actionId"))
    document["inFlight"] = runtime.limits.in_flight
    document["stub"] = {"received": dict(sorted(runtime.stub.received.items()))}
    return JSONResponse(document)


async def delete_executions(request: Request) -> Response:
    runtime = actions_of(request)
    runtime.counter.reset()
    runtime.limits.reset()
    runtime.stub.received.clear()
    return JSONResponse({"reset": True})


routes = [
    Route("/sandbox/actions/executions", get_executions, methods=["GET"]),
    Route("/sandbox/actions/executions", delete_executions, methods=["DELETE"]),
]
