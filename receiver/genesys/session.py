"""One logical Platform API call: pacing, token, retries, logging, error translation.

Each try waits for the rate limiter, takes the shared access token, sends, and reads
the rate-limit headers. A 401 discards the token and repeats once with a new one. A
429, 502, 503, 504 or transport failure is repeated after a backoff while the attempt
and time budget last — except for calls that are not safe to repeat (``retry_safe``
false, e.g. the flow launch): those are repeated only when Genesys certainly did not
act (a 429, or no connection was made); otherwise :class:`GenesysOutcomeUnknown`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import orjson

from receiver.genesys import wire
from receiver.genesys.auth import TokenProvider
from receiver.genesys.config import GenesysConfig
from receiver.genesys.errors import (
    CORRELATION_HEADER,
    GenesysBadResponse,
    GenesysError,
    GenesysRateLimited,
    GenesysUnavailable,
    error_from_response,
    error_from_transport,
)
from receiver.genesys.limiter import RateLimiter
from receiver.genesys.observer import GenesysObserver, SilentObserver, operation_of
from receiver.genesys.retry import RETRYABLE_STATUSES, RetryPolicy
from receiver.genesys.wire import JSONObject

T = TypeVar("T")
QueryParams = Mapping[str, str | int]


class ApiSession:
    """Sends Platform API requests on behalf of the client and its resource APIs."""

    def __init__(
        self,
        config: GenesysConfig,
        http: httpx.AsyncClient,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        random: Callable[[], float],
        logger: logging.Logger,
        observer: GenesysObserver | None = None,
    ) -> None:
        self._base = config.api_url
        self._observer = observer or SilentObserver()
        self._http = http
        self._clock = clock
        self._sleep = sleep
        self._log = logger
        self._timeout = httpx.Timeout(
            config.request_timeout_seconds, connect=config.connect_timeout_seconds
        )
        self._policy = RetryPolicy.from_config(config, random)
        self._auth = TokenProvider(
            config, http, timeout=self._timeout, clock=clock, logger=logger, observer=observer
        )
        self._limiter = RateLimiter(
            config.rate_limit_per_minute, clock=clock, sleep=sleep, logger=logger
        )

    async def authenticate(self) -> None:
        """Get an access token now (the client credentials grant), or raise GenesysError."""
        await self._auth.token()

    async def fetch(
        self,
        method: str,
        path: str,
        build: Callable[[JSONObject], T],
        *,
        params: QueryParams | None = None,
        body: Any = None,
        retry_safe: bool | None = None,
    ) -> T:
        """Send a request and ``build`` the result from its JSON object body."""
        response = await self.request(method, path, params=params, body=body, retry_safe=retry_safe)
        try:
            data = wire.decode(response)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            return build(data)
        except ValueError as exc:
            raise GenesysBadResponse(
                f"Genesys {method} {path} answered {response.status_code} with an unusable "
                f"body: {exc}",
                http_status=response.status_code,
                correlation_id=response.headers.get(CORRELATION_HEADER),
            ) from exc

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: QueryParams | None = None,
        body: Any = None,
        retry_safe: bool | None = None,
        read_timeout: float | None = None,
        max_attempts: int | None = None,
    ) -> httpx.Response:
        """Send ``method path`` and return the 2xx response, or raise a ``GenesysError``.

        ``retry_safe`` defaults to true for GET, HEAD, PUT and DELETE. ``read_timeout``
        replaces the configured read timeout (a data action may run up to 60 s);
        ``max_attempts`` lowers the configured number of tries (1: the caller retries).
        """
        if retry_safe is None:
            retry_safe = method in ("GET", "HEAD", "PUT", "DELETE")
        content = None if body is None else orjson.dumps(body)
        started = self._clock()
        attempt = 0
        renewed = False
        while True:
            attempt += 1
            await self._limiter.acquire()
            try:
                token = await self._auth.token()
                response = await self._send(
                    method, path, params, content, token, attempt, read_timeout
                )
            except httpx.RequestError as exc:
                error = error_from_transport(exc, method=method, path=path, retry_safe=retry_safe)
            except GenesysError as exc:  # from the token endpoint: nothing was sent yet
                error = exc
            else:
                if response.status_code == 401 and not renewed:
                    # Expired or revoked token: one fresh token, one repeat, not a retry.
                    renewed = True
                    attempt -= 1
                    await self._auth.discard(token)
                    continue
                if response.is_success:
                    return response
                error = error_from_response(
                    response, method=method, path=path, retry_safe=retry_safe
                )
            error.attempts = attempt
            delay = self._retry_delay(error, attempt, self._clock() - started)
            if delay is None or (max_attempts is not None and attempt >= max_attempts):
                raise error
            self._observer.retrying(
                operation_of(method, path), str(error.http_status or error.code)
            )
            self._log.warning(
                "genesys %s %s: retrying in %.2f s after %s",
                method,
                path,
                delay,
                error.http_status or error.code,
                extra={
                    "action": "genesys.retry",
                    "method": method,
                    "path": path,
                    "status": error.http_status,
                    "attempt": attempt,
                    "delay_ms": round(delay * 1000, 1),
                    "correlation_id": error.correlation_id,
                },
            )
            await self._sleep(delay)

    async def _send(
        self,
        method: str,
        path: str,
        params: QueryParams | None,
        content: bytes | None,
        token: str,
        attempt: int,
        read_timeout: float | None = None,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        if content is not None:
            headers["Content-Type"] = "application/json"
        sent_at = self._clock()
        extra: dict[str, Any] = {
            "action": "genesys.request",
            "method": method,
            "path": path,
            "attempt": attempt,
        }
        try:
            response = await self._http.request(
                method,
                self._base + path,
                params=params,
                content=content,
                headers=headers,
                timeout=self._timeout
                if read_timeout is None
                else httpx.Timeout(read_timeout, connect=self._timeout.connect),
            )
        except httpx.RequestError as exc:
            extra.update(elapsed_ms=self._elapsed_ms(sent_at), error=type(exc).__name__)
            self._observer.responded(
                operation_of(method, path), type(exc).__name__, self._clock() - sent_at
            )
            self._log.warning("genesys %s %s -> %s", method, path, type(exc).__name__, extra=extra)
            raise
        self._limiter.observe(response.headers)
        self._observer.responded(
            operation_of(method, path), str(response.status_code), self._clock() - sent_at
        )
        extra.update(
            status=response.status_code,
            elapsed_ms=self._elapsed_ms(sent_at),
            correlation_id=response.headers.get(CORRELATION_HEADER),
        )
        level = logging.DEBUG if response.is_success else logging.WARNING
        self._log.log(level, "genesys %s %s -> %s", method, path, response.status_code, extra=extra)
        return response

    def _retry_delay(self, error: GenesysError, attempt: int, elapsed: float) -> float | None:
        if isinstance(error, GenesysRateLimited):
            delay = self._policy.rate_limited_delay(error.retry_after, attempt)
            if delay is None:
                return None
            # Everyone in this process is over the limit, not just this call.
            self._limiter.pause(delay)
        elif isinstance(error, GenesysUnavailable) and (
            error.http_status is None or error.http_status in RETRYABLE_STATUSES
        ):
            delay = self._policy.backoff(attempt)
        else:
            return None
        return delay if self._policy.allows(attempt, elapsed, delay) else None

    def _elapsed_ms(self, since: float) -> float:
        return round((self._clock() - since) * 1000, 1)


def segment(value: str) -> str:
    """An id as exactly one path segment (ids come from callers; no ``/`` or ``..``)."""
    if not value:
        raise ValueError("a Genesys id must not be empty")
    return quote(value, safe="")
