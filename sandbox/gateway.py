"""The front door every HTTP request passes: correlation id, auth, rate limit, API faults.

It stamps ``ININ-Correlation-Id`` and ``inin-ratelimit-count/-allowed/-reset`` on every
response, demands a valid bearer token under ``/api/v2/``, enforces the per-client limit
(429 + ``Retry-After``), and plays the ``api`` faults (see :mod:`sandbox.faults`).
Control endpoints under ``/sandbox/`` never see faults or limits.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import TYPE_CHECKING

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox.errors import SandboxError, error_response
from sandbox.ratelimit import RateDecision

if TYPE_CHECKING:
    from sandbox.state import SandboxState

log = logging.getLogger(__name__)

_CDN_PAGES = {
    502: "502 Bad Gateway",
    503: "503 Service Unavailable",
    504: "504 Gateway Timeout",
}


class Gateway:
    """Pure ASGI middleware (no per-request task overhead; WebSockets pass straight through)."""

    def __init__(self, app: ASGIApp, sandbox: SandboxState) -> None:
        self.app = app
        self.sandbox = sandbox

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        context_id = str(uuid.uuid4())
        scope.setdefault("state", {})["correlation_id"] = context_id
        path: str = scope["path"]
        rate = self.sandbox.limiter.peek("anonymous")

        async def send_stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(raw=list(message.get("headers", [])))
                headers["ININ-Correlation-Id"] = context_id
                for name, value in rate.headers().items():
                    headers[name] = value
                message["headers"] = headers.raw
            await send(message)

        response: Response | None = None
        if not path.startswith("/sandbox/"):
            response = await self._injected_fault(path, context_id)
        if response is None and path.startswith("/api/v2/"):
            response, rate = self._admit(scope, context_id)
        if response is not None:
            await response(scope, receive, send_stamped)
            return
        started = False

        async def send_tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send_stamped(message)

        try:
            await self.app(scope, receive, send_tracked)
        except Exception:
            if started:
                raise
            # A sandbox bug still answers as the platform would: a stamped 500 ErrorBody.
            log.exception("sandbox request %s %s failed", scope["method"], path)
            error = SandboxError("The sandbox failed to handle the request.", status=500)
            await error_response(error, context_id)(scope, receive, send_stamped)

    def _admit(self, scope: Scope, context_id: str) -> tuple[Response | None, RateDecision]:
        """Authenticate and count the request; an error response when it may not pass."""
        sandbox = self.sandbox
        try:
            token = sandbox.tokens.authenticate(Headers(scope=scope).get("authorization"))
        except SandboxError as error:
            sandbox.stats.incr("api.unauthorized")
            return error_response(error, context_id), sandbox.limiter.peek("anonymous")
        scope["state"]["client_id"] = token.client_id
        scope["state"]["token"] = token.value
        rate = sandbox.limiter.hit(token.client_id)
        sandbox.stats.incr("api.requests")
        if not rate.limited:
            return None, rate
        sandbox.stats.incr("api.rate_limited")
        return self._too_many(rate.reset_seconds, context_id), rate

    async def _injected_fault(self, path: str, context_id: str) -> Response | None:
        faults = self.sandbox.faults
        if not faults.applies_to_path(path):
            return None
        settings = faults.settings.api
        if faults.take_burst():
            self.sandbox.stats.incr("faults.api.429")
            return self._too_many(settings.retry_after_seconds, context_id)
        if faults.roll("api", settings.server_error):
            status = faults.rng("api").choice(settings.server_error_statuses)
            self.sandbox.stats.incr(f"faults.api.{status}")
            non_json = faults.roll("api", settings.non_json)
            if status in _CDN_PAGES and non_json:
                page = f"<html><head><title>{_CDN_PAGES[status]}</title></head><body>"
                page += f"<h1>{_CDN_PAGES[status]}</h1><p>CloudFront</p></body></html>"
                return Response(page, status_code=status, media_type="text/html")
            error = SandboxError("The sandbox injected a server error.", status=status)
            return error_response(error, context_id)
        if faults.roll("api", settings.slow):
            self.sandbox.stats.incr("faults.api.slow")
            await asyncio.sleep(settings.slow_ms / 1000)
        return None

    @staticmethod
    def _too_many(retry_after: int, context_id: str) -> Response:
        error = SandboxError(
            f"Rate limit exceeded the maximum. Retry the request in [{retry_after}] seconds",
            status=429,
            headers={"Retry-After": str(retry_after)},
        )
        return error_response(error, context_id)
