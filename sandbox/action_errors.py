"""How a failed execute or test answers (genesys-api.md §16.C.4, §16.C.5).

Two shapes are documented and both are served:

- the ``ErrorBody`` with ``details[].errorCode`` ``ACTION.*`` — ``ACTION.REMOTE_ENDPOINT``
  for a remote endpoint that fails, resets or answers a non-2xx (500; an upstream 4xx
  keeps its status, which is UNCONFIRMED), with the "REST call for action execute
  failed. Message: …" inner error;
- the older authentication shape (``errorCode`` ``INVALID_CREDENTIALS``, ``userMessage``,
  ``correlationId``, ``details[].errorCode`` ``ACTION.AUTHENTICATION``, status 400) when
  the remote endpoint refuses the credentials (401/403).

Where the documentation is silent the sandbox chooses, and says so in docs/sandbox.md:
input that breaks the input schema is a 400 ``bad.request`` with one
``ACTION.INPUT_VALIDATION`` detail per field (``fieldName``); a timeout is a 408
``request.timeout`` with ``ACTION.TIMEOUT``; an answer that cannot be translated is a
500 with ``ACTION.PROCESSING``. The per-org limits answer 429 with ``Retry-After`` and
a ``limit`` in the ``dataactions`` namespace.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.responses import Response

from sandbox.action_contract import InputProblem
from sandbox.errors import error_body

#: The failure classes the execution counter keeps (``GET /sandbox/actions/executions``).
REASONS = (
    "remoteEndpoint",
    "authentication",
    "timedOut",
    "processing",
    "invalidInput",
    "rateLimited",
)


@dataclass(frozen=True)
class ActionFailure:
    """A failed execution: its HTTP status, body, headers and failure class."""

    status: int
    body: dict[str, Any]
    reason: str
    headers: dict[str, str] = field(default_factory=dict)

    def response(self) -> Response:
        return Response(
            orjson.dumps(self.body),
            status_code=self.status,
            headers=self.headers,
            media_type="application/json",
        )


def _rest_call_failed(message: str, context_id: str) -> str:
    return f"REST call for action execute failed. Message: {message} [{context_id}]"


def remote_endpoint(context_id: str, message: str, upstream_status: int | None) -> ActionFailure:
    """The remote endpoint failed: no answer (500) or a non-2xx (5xx → 500, 4xx kept)."""
    status = upstream_status if upstream_status and 400 <= upstream_status < 500 else 500
    body = error_body(
        status,
        "internal.server.error" if status == 500 else "bad.request",
        "The server encountered an unexpected condition which prevented it from fulfilling "
        "the request."
        if status == 500
        else "The remote endpoint refused the request.",
        context_id,
    )
    inner = error_body(status, "", _rest_call_failed(message, context_id), context_id)
    inner["code"] = "INTERNAL_SERVER_ERROR" if status == 500 else "BAD_REQUEST"
    body["details"] = [{"errorCode": "ACTION.REMOTE_ENDPOINT"}]
    body["errors"] = [inner]
    return ActionFailure(status, body, "remoteEndpoint")


def authentication(context_id: str, upstream_body: str) -> ActionFailure:
    """The remote endpoint refused the credentials (the older ``userMessage`` shape)."""
    inner = {
        "errorCode": "INVALID_CREDENTIALS",
        "status": 400,
        "userMessage": "Request to backend service failed.  Response from web service: "
        f"{upstream_body} [{context_id}]",
        "userParams": [],
        "details": [],
        "errors": [],
    }
    body = {
        "errorCode": "INVALID_CREDENTIALS",
        "status": 400,
        "correlationId": context_id,
        "entityName": "web-services-data-actions",
        "userMessage": "There was an issue validating the credentials.",
        "userParams": [],
        "details": [{"errorCode": "ACTION.AUTHENTICATION"}],
        "errors": [inner],
    }
    return ActionFailure(400, body, "authentication")


def invalid_input(context_id: str, problems: Sequence[InputProblem]) -> ActionFailure:
    """The input does not match the action's input schema: every field at once."""
    listed = "; ".join(f"{p.field or '(input)'}: {p.message}" for p in problems)
    body = error_body(
        400,
        "bad.request",
        f"The input does not match the action's input schema: {listed}",
        context_id,
    )
    body["details"] = [
        {"errorCode": "ACTION.INPUT_VALIDATION", "fieldName": p.field} for p in problems
    ]
    body["errors"] = [
        {**error_body(400, "invalid.value", p.message, context_id), "entityName": p.field}
        for p in problems
    ]
    return ActionFailure(400, body, "invalidInput")


def timed_out(context_id: str, seconds: float) -> ActionFailure:
    """The remote endpoint did not answer within the action's ``timeoutSeconds``."""
    message = f"The remote endpoint did not answer within {seconds:g} seconds."
    body = error_body(408, "request.timeout", message, context_id)
    inner = error_body(408, "REQUEST_TIMEOUT", _rest_call_failed(message, context_id), context_id)
    body["details"] = [{"errorCode": "ACTION.TIMEOUT"}]
    body["errors"] = [inner]
    return ActionFailure(408, body, "timedOut")


def processing(context_id: str, message: str) -> ActionFailure:
    """The answer came but could not be turned into the action's output."""
    body = error_body(500, "internal.server.error", message, context_id)
    inner = error_body(
        500, "INTERNAL_SERVER_ERROR", _rest_call_failed(message, context_id), context_id
    )
    body["details"] = [{"errorCode": "ACTION.PROCESSING"}]
    body["errors"] = [inner]
    return ActionFailure(500, body, "processing")


def rate_limited(context_id: str, key: str, value: int, retry_after: int) -> ActionFailure:
    """A per-org data action limit (concurrency or executions per minute) is reached."""
    body = error_body(
        429,
        "too.many.requests",
        f"Rate limit exceeded the maximum. Retry the request in [{retry_after}] seconds",
        context_id,
    )
    body["limit"] = {"key": key, "namespace": "dataactions", "value": value}
    return ActionFailure(429, body, "rateLimited", {"Retry-After": str(retry_after)})
