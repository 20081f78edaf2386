"""JSON responses, and the one place where errors become HTTP responses.

:data:`STATUSES` maps each kind of :class:`~receiver.errors.FlowtrackError` to its
HTTP status; nothing below the web edge knows statuses.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from receiver.errors import (
    BadRequest,
    Conflict,
    FlowtrackError,
    Forbidden,
    InvalidRequest,
    NotFound,
    TooLarge,
    Unauthenticated,
    Unavailable,
    UnsupportedMedia,
    UpstreamFailure,
)
from storage.errors import SchemaNotReady, StorageError, StorageUnavailable

log = logging.getLogger("flowtrack.http")

# How long a client should wait before retrying while the database is unavailable.
RETRY_AFTER_SECONDS = 5


class JSONResponse(Response):
    """A JSON response rendered by orjson (datetimes in ISO-8601 UTC)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, default=_default)


#: The HTTP status of each kind of error (the first base found in the error's MRO).
STATUSES: dict[type[FlowtrackError], int] = {
    BadRequest: 400,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    TooLarge: 413,
    UnsupportedMedia: 415,
    InvalidRequest: 422,
    UpstreamFailure: 502,
    Unavailable: 503,
}


def status_of(error: type[FlowtrackError]) -> int:
    """The HTTP status an error of this class answers with (500 when unclassified)."""
    for kind in error.__mro__:
        status = STATUSES.get(kind)
        if status is not None:
            return status
    return 500


def _default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"cannot serialise {type(value).__name__}")


async def flowtrack_error(request: Request, exc: Exception) -> Response:
    """FlowtrackError → its status and ``{"error", "message", "detail"?}``."""
    assert isinstance(exc, FlowtrackError)
    status = status_of(type(exc))
    extra = {"path": request.url.path, "code": exc.code}
    if isinstance(exc, Unavailable):
        # Told to the client as it is (e.g. Genesys not configured): a condition, not a bug.
        log.warning(exc.message, extra={"action": "http.unavailable", **extra})
    elif status >= 500:
        log.error(exc.message, extra={"action": "http.error", **extra})
    headers = getattr(exc, "headers", None)
    return JSONResponse(exc.to_json(), status_code=status, headers=headers)


async def storage_error(request: Request, exc: Exception) -> Response:
    """Database trouble → 503 with Retry-After when transient, else 500."""
    if isinstance(exc, StorageUnavailable | SchemaNotReady):
        log.warning(
            str(exc), extra={"action": "http.storage_unavailable", "path": request.url.path}
        )
        return JSONResponse(
            {"error": "storage_unavailable", "message": str(exc)},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    log.error(str(exc), extra={"action": "http.storage_error", "path": request.url.path})
    return JSONResponse({"error": "storage_error", "message": str(exc)}, status_code=500)


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own answers (no such route, method not allowed) → JSON like the rest."""
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        # Starlette names only the methods of the first route with this path; a path has
        # one route per method here, so the answer must name all of theirs.
        headers["Allow"] = ", ".join(_allowed_methods(request)) or headers.get("Allow", "")
    return JSONResponse(
        {"error": code, "message": exc.detail}, status_code=exc.status_code, headers=headers
    )


def _allowed_methods(request: Request) -> list[str]:
    methods: set[str] = set()
    for route in getattr(request.app, "routes", ()):
        if isinstance(route, Route) and route.path_regex.match(request.url.path):
            methods |= route.methods or set()
    # HEAD comes with every GET; the declared methods are what a client needs to know.
    return sorted(methods - {"HEAD"} if "GET" in methods else methods)


async def internal_error(request: Request, exc: Exception) -> Response:
    """A bug: JSON all the same; the server log has the traceback (uvicorn logs it)."""
    log.error(
        f"unhandled {exc.__class__.__name__}",
        extra={"action": "http.internal_error", "path": request.url.path},
    )
    return JSONResponse(
        {"error": "internal_error", "message": "internal error; the server log has the details"},
        status_code=500,
    )


EXCEPTION_HANDLERS = {
    FlowtrackError: flowtrack_error,
    StorageError: storage_error,
    HTTPException: http_error,
    Exception: internal_error,
}


async def send_error(scope: Scope, receive: Receive, send: Send, exc: Exception) -> None:
    """Answer with the response :data:`EXCEPTION_HANDLERS` give ``exc``.

    For bare ASGI endpoints, which run outside Starlette's exception middleware. A bug
    is raised again once answered, so the server logs its traceback as for any route.
    """
    handler = next(
        EXCEPTION_HANDLERS[kind] for kind in type(exc).__mro__ if kind in EXCEPTION_HANDLERS
    )
    response = await handler(Request(scope), exc)
    await response(scope, receive, send)
    if handler is internal_error:
        raise exc


__all__ = ["EXCEPTION_HANDLERS", "JSONResponse", "StorageError", "send_error"]
