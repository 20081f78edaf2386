"""The sandbox's exception base and the one place errors become ``ErrorBody`` responses.

Every error the Platform API surface returns is an ``ErrorBody`` (genesys-api.md §2.1)
whose ``status`` equals the HTTP status and whose ``contextId`` equals the response's
``ININ-Correlation-Id``.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

_DEFAULT_CODES = {
    400: "bad.request",
    401: "authentication.required",
    403: "missing.permissions",
    404: "not.found",
    405: "bad.request",
    408: "request.timeout",
    409: "conflict",
    413: "request.entity.too.large",
    415: "unsupported.media.type",
    429: "too.many.requests",
    500: "internal.server.error",
    502: "bad.gateway",
    503: "service.unavailable",
    504: "gateway.timeout",
}


class SandboxError(Exception):
    """Base of every error the sandbox raises on purpose; ``status`` is the HTTP status."""

    status = 500

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.code = code or _DEFAULT_CODES.get(self.status, "error")
        self.headers = headers or {}


class BadRequest(SandboxError):
    status = 400


class Unauthorized(SandboxError):
    status = 401


class NotFound(SandboxError):
    status = 404

    def __init__(self, message: str = "The requested resource was not found.") -> None:
        super().__init__(message)


class Conflict(SandboxError):
    status = 409


class FlowFileError(SandboxError):
    """A flow definition (file, mapping or config) is invalid."""

    status = 400


def error_body(status: int, code: str, message: str, context_id: str) -> dict[str, Any]:
    """Build an ``ErrorBody`` document."""
    body: dict[str, Any] = {
        "message": message,
        "code": code,
        "status": status,
        "messageWithParams": message,
        "messageParams": {},
        "contextId": context_id,
        "details": [],
        "errors": [],
    }
    if status == 429:
        body["limit"] = {
            "key": "client.credentials.token.rate.per.minute",
            "namespace": "platform.api",
        }
    return body


def correlation_id(request: Request) -> str:
    """The correlation id the gateway assigned to this request (a fresh one if none)."""
    value = getattr(request.state, "correlation_id", None)
    return value if isinstance(value, str) else str(uuid.uuid4())


def error_response(error: SandboxError, context_id: str) -> Response:
    """Render a sandbox error as an ``ErrorBody`` response."""
    body = error_body(error.status, error.code, error.message, context_id)
    return Response(
        orjson.dumps(body),
        status_code=error.status,
        headers=error.headers,
        media_type="application/json",
    )


async def handle_sandbox_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SandboxError)
    return error_response(exc, correlation_id(request))


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = "The requested resource was not found." if exc.status_code == 404 else exc.detail
    error = SandboxError(message, status=exc.status_code, headers=dict(exc.headers or {}))
    return error_response(error, correlation_id(request))
