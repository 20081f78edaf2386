"""OAuth client-credentials access token for the Platform API (genesys-api.md §1.3).

``POST {login_url}/oauth/token`` with the client id and secret in a Basic header and a
form body of ``grant_type=client_credentials`` only. The grant has no refresh token: a
new token is requested shortly before ``expires_in`` runs out, and after an API call is
answered 401.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from receiver.genesys.config import GenesysConfig
from receiver.genesys.errors import (
    CORRELATION_HEADER,
    GenesysAuthError,
    GenesysBadResponse,
    GenesysError,
    GenesysRateLimited,
    GenesysUnavailable,
    error_from_transport,
)
from receiver.genesys.observer import GenesysObserver, SilentObserver
from receiver.genesys.retry import retry_after_seconds
from receiver.genesys.wire import json_object

#: Shortest lifetime an OAuth client can be configured with; assumed when a token
#: response omits ``expires_in``.
_MIN_LIFETIME_SECONDS = 300.0


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A bearer token and the moment (on the client's monotonic clock) to replace it."""

    value: str = field(repr=False)
    renew_at: float


class TokenProvider:
    """Hands out one shared access token to every concurrent caller.

    Concurrent callers that find no valid token queue on one lock; the first fetches,
    the others find its token when they get the lock, so a burst causes one request.
    """

    def __init__(
        self,
        config: GenesysConfig,
        http: httpx.AsyncClient,
        *,
        timeout: httpx.Timeout,
        clock: Callable[[], float],
        logger: logging.Logger,
        observer: GenesysObserver | None = None,
    ) -> None:
        self._url = f"{config.login_url}/oauth/token"
        self._observer = observer or SilentObserver()
        credentials = f"{config.client_id}:{config.client_secret}".encode()
        self._authorization = "Basic " + base64.b64encode(credentials).decode("ascii")
        self._margin = config.token_renew_margin_seconds
        self._http = http
        self._timeout = timeout
        self._clock = clock
        self._log = logger
        self._lock = asyncio.Lock()
        self._token: AccessToken | None = None

    def __repr__(self) -> str:
        return f"TokenProvider(url={self._url!r})"

    async def token(self) -> str:
        """A valid access token, fetching a new one when needed."""
        current = self._usable()
        if current is not None:
            return current
        async with self._lock:
            current = self._usable()
            if current is not None:
                return current
            self._token = await self._fetch()
            return self._token.value

    async def discard(self, rejected: str) -> None:
        """Forget ``rejected`` after a 401, unless a caller already replaced it."""
        async with self._lock:
            if self._token is not None and self._token.value == rejected:
                self._token = None

    def _usable(self) -> str | None:
        token = self._token
        if token is not None and self._clock() < token.renew_at:
            return token.value
        return None

    async def _fetch(self) -> AccessToken:
        started = self._clock()
        try:
            response = await self._http.post(
                self._url,
                data={"grant_type": "client_credentials"},
                headers={"Authorization": self._authorization, "Accept": "application/json"},
                timeout=self._timeout,
            )
        except httpx.RequestError as exc:
            self._observer.token_requested(type(exc).__name__)
            self._log.warning(
                "genesys token request failed: %s",
                type(exc).__name__,
                extra={"action": "genesys.token", "error": type(exc).__name__},
            )
            raise error_from_transport(exc, method="POST", path="/oauth/token") from exc
        correlation_id = response.headers.get(CORRELATION_HEADER)
        self._observer.token_requested(str(response.status_code))
        self._log.info(
            "genesys token request -> %s",
            response.status_code,
            extra={
                "action": "genesys.token",
                "status": response.status_code,
                "elapsed_ms": round((self._clock() - started) * 1000, 1),
                "correlation_id": correlation_id,
            },
        )
        if not response.is_success:
            raise _token_error(response, correlation_id)
        return self._parse(response, started, correlation_id)

    def _parse(
        self, response: httpx.Response, started: float, correlation_id: str | None
    ) -> AccessToken:
        body = json_object(response)
        value = body.get("access_token")
        token_type = body.get("token_type")
        if not isinstance(value, str) or not value:
            raise GenesysBadResponse(
                "Genesys token response has no access_token", correlation_id=correlation_id
            )
        # Casing is unconfirmed (genesys-api.md §1.3); absence is tolerated.
        if isinstance(token_type, str) and token_type.lower() != "bearer":
            raise GenesysBadResponse(
                f"Genesys token response has token_type {token_type!r}, expected bearer",
                correlation_id=correlation_id,
            )
        lifetime = body.get("expires_in")
        if isinstance(lifetime, bool) or not isinstance(lifetime, int | float) or lifetime <= 0:
            lifetime = _MIN_LIFETIME_SECONDS
        # Measured from the request's start so network time never makes us late.
        margin = min(self._margin, lifetime / 2)
        return AccessToken(value=value, renew_at=started + lifetime - margin)


def _token_error(response: httpx.Response, correlation_id: str | None) -> GenesysError:
    body = json_object(response)
    status = response.status_code
    oauth_error = body.get("error") if isinstance(body.get("error"), str) else None
    description = body.get("description") or body.get("error_description")
    message = f"Genesys token request answered {status}"
    if oauth_error:
        message += f" {oauth_error}"
    if isinstance(description, str) and description:
        message += f": {description}"
    options: dict[str, Any] = {
        "http_status": status,
        "genesys_code": oauth_error,
        "correlation_id": correlation_id,
    }
    if status == 429:
        return GenesysRateLimited(
            message, retry_after=retry_after_seconds(response.headers), **options
        )
    if status >= 500 or status == 408:
        return GenesysUnavailable(message, **options)
    return GenesysAuthError(message, **options)
