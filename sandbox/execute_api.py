"""``POST …/{actionId}/execute`` and ``POST …/{actionId}/test`` (genesys-api.md §16.C.1).

``execute`` answers 200 with the translated output (flattened with ``flatten=true``) or
a failure in one of Genesys' error shapes (:mod:`sandbox.action_errors`). ``test`` runs
the same pipeline and answers 200 with a ``TestExecutionResult`` whatever happened to
the action (its ``operations`` are the steps), except when an org limit refuses the
call (429, like execute). Both count toward the org limits and the execution counter.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.action_contract import flattened_value
from sandbox.action_executor import Execution
from sandbox.action_runtime import actions_of
from sandbox.errors import BadRequest, correlation_id
from sandbox.state import sandbox_of
from sandbox.wire import JSONResponse, query_bool, read_json


def _own_base_url(request: Request) -> str:
    """Where this sandbox listens, as seen from itself (for relative action URLs)."""
    server = request.scope.get("server")
    if not server:
        return str(request.base_url).rstrip("/")
    host, port = server[0], server[1]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def _run(request: Request, *, test: bool) -> Execution:
    action = sandbox_of(request).integrations.action(request.path_params["actionId"])
    values = await read_json(request)
    if not isinstance(values, dict):
        raise BadRequest("The body must be an object of input values.", code="invalid.value")
    return await actions_of(request).executor.run(
        action,
        values,
        context_id=correlation_id(request),
        own_base_url=_own_base_url(request),
        test=test,
    )


async def execute_action(request: Request) -> Response:
    """Run the action now; its output, or why it failed."""
    execution = await _run(request, test=False)
    if execution.failure is not None:
        return execution.failure.response()
    flatten = query_bool(request, "flatten")
    return JSONResponse(flattened_value(execution.output) if flatten else execution.output)


async def test_action(request: Request) -> Response:
    """Run the action now and report each step (``TestExecutionResult``)."""
    execution = await _run(request, test=True)
    if execution.failure is not None and execution.failure.status == 429:
        return execution.failure.response()
    document = execution.test_result()
    if query_bool(request, "flatten") and "finalResult" in document:
        document["finalResult"] = flattened_value(document["finalResult"])
    return JSONResponse(document)


_ONE = "/api/v2/integrations/actions/{actionId}"
routes = [
    Route(f"{_ONE}/execute", execute_action, methods=["POST"]),
    Route(f"{_ONE}/test", test_action, methods=["POST"]),
]
