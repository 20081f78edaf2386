"""The console's routes, and the console itself: one ASGI app mounted at ``/ui``.

The console is a separate app on purpose: its pages are not API operations (they are
not in the OpenAPI document, and answer HTML, errors included), and it is left out
entirely when ``FLOWTRACK_UI=0``.
"""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.types import Receive, Scope, Send

from receiver.console import (
    actions,
    auth,
    conversations,
    dead_letters,
    flows,
    launch,
    launches,
    overview,
)
from receiver.console.auth import SESSIONS_KEY
from receiver.console.rendering import (
    PREFIX,
    STATIC,
    TEMPLATES_KEY,
    CachedStaticFiles,
    page,
    templates,
)
from receiver.console.session import Sessions, session_secret
from receiver.console.telemetry import METRICS_KEY, ConsoleMetrics, metrics_of
from receiver.errors import FlowtrackError
from receiver.settings import Settings
from receiver.web.responses import status_of
from storage.errors import SchemaNotReady, StorageError, StorageUnavailable

log = logging.getLogger("flowtrack.console")

ROUTES: list[BaseRoute] = [
    Route("/", overview.overview, methods=["GET"]),
    Route("/login", auth.login_form, methods=["GET"]),
    Route("/login", auth.login, methods=["POST"]),
    Route("/logout", auth.logout, methods=["POST"]),
    Route("/launches", launches.launches, methods=["GET"]),
    Route("/launches/{launch_id}", launch.launch, methods=["GET"]),
    Route("/launches/{launch_id}/terminate", launch.terminate, methods=["POST"]),
    Route("/conversations/{conversation_id}", conversations.conversation, methods=["GET"]),
    Route("/flows", flows.flows, methods=["GET"]),
    Route("/flows/{flow_id}", flows.flow, methods=["GET"]),
    Route("/dead-letters", dead_letters.dead_letters, methods=["GET"]),
    Route("/actions", actions.runs, methods=["GET"]),
    Route("/actions/runs/{run_id}", actions.run, methods=["GET"]),
    Mount("/static", app=CachedStaticFiles(directory=STATIC), name="static"),
]


class Console:
    """The web console: its sessions, templates and routes, as one ASGI app.

    It keeps no ``routes`` attribute: the API document (built from the app's routes)
    does not descend into it.
    """

    def __init__(self, settings: Settings) -> None:
        config = settings.console
        self._sessions = Sessions(
            config,
            session_secret(config),
            settings.api_keys,
            settings.api_read_keys,
            insecure=settings.insecure_api,
        )
        self._templates = templates()
        # Made at the first request: the app's registry exists once its lifespan started.
        self._metrics: ConsoleMetrics | None = None
        self._app = ExceptionMiddleware(
            Router(routes=ROUTES),
            handlers={
                FlowtrackError: error_page,
                StorageError: error_page,
                HTTPException: error_page,
                Exception: error_page,
            },
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[SESSIONS_KEY] = self._sessions
        scope[TEMPLATES_KEY] = self._templates
        if self._metrics is None:
            self._metrics = ConsoleMetrics(scope["app"].state.services.metrics.registry)
        scope[METRICS_KEY] = self._metrics
        await self._app(scope, receive, send)


def console_routes(settings: Settings) -> list[BaseRoute]:
    """``/ui`` when the console is on (``FLOWTRACK_UI``, default on), else nothing."""
    if not settings.console.enabled:
        return []
    return [Mount(PREFIX, app=Console(settings))]


async def error_page(request: Request, exc: Exception) -> Response:
    """Any failure of a console page, as a page that says what went wrong."""
    retry = None
    if isinstance(exc, FlowtrackError):
        status, code, message = status_of(type(exc)), exc.code, exc.message
    elif isinstance(exc, HTTPException):
        status, code, message = exc.status_code, "http_error", str(exc.detail)
    elif isinstance(exc, StorageUnavailable | SchemaNotReady):
        status, code, message = 503, "storage_unavailable", str(exc)
        retry = "5"
    elif isinstance(exc, StorageError):
        status, code, message = 500, "storage_error", str(exc)
    else:
        status, code = 500, "internal_error"
        message = "internal error; the server log has the details"
        log.error(
            f"unhandled {exc.__class__.__name__}",
            exc_info=exc,
            extra={"action": "console.internal_error", "path": request.url.path},
        )
    metrics_of(request).refused(code)
    extra = {"action": "console.refused", "path": request.url.path, "code": code}
    if 400 <= status < 500:
        log.info(message, extra=extra)
    elif code != "internal_error":
        log.warning(message, extra={**extra, "action": "console.unavailable"})
    response = page(
        request, "error.html", {"status": status, "code": code, "message": message}, status=status
    )
    if retry:
        response.headers["Retry-After"] = retry
    return response
