"""Genesys failures translated into flowtrack's own exception types.

Every exception raised by the Genesys client is a :class:`GenesysError`, an
``UpstreamFailure`` of flowtrack's tree; ``http_status`` is what Genesys answered
(``None`` when no answer arrived). What flowtrack answers its own callers is decided at
its web edge, not here. Messages name the method, path, Genesys status and code — never a token, a
secret or a request body.
"""

from __future__ import annotations

from typing import Any

import httpx

from receiver.errors import UpstreamFailure
from receiver.genesys.retry import retry_after_seconds
from receiver.genesys.wire import json_object, text

CORRELATION_HEADER = "ININ-Correlation-Id"

#: Transport failures raised before any byte of the request left: repeating is safe.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
#: Other transport failures worth another try (everything but misconfiguration).
_TRANSIENT = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


class GenesysError(UpstreamFailure):
    """A Genesys call failed."""

    code = "genesys_error"

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        genesys_code: str | None = None,
        correlation_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.http_status = http_status
        self.genesys_code = genesys_code
        self.correlation_id = correlation_id
        self.retry_after = retry_after
        #: How many tries were made before giving up; set by the retry loop.
        self.attempts = 1
        #: The ``ErrorBody`` Genesys answered with (empty when none or not JSON).
        self.body: dict[str, Any] = {}
        detail = {
            "genesysStatus": http_status,
            "genesysCode": genesys_code,
            "correlationId": correlation_id,
            "retryAfterSeconds": retry_after,
        }
        super().__init__(message, detail={k: v for k, v in detail.items() if v is not None})


class GenesysBadRequest(GenesysError):
    """Genesys rejected the request as invalid (400, 413, 415, other 4xx)."""

    code = "genesys_bad_request"


class GenesysAuthError(GenesysError):
    """flowtrack's OAuth client was refused (token endpoint, or 401 after one renewal).

    It is flowtrack's configuration that is wrong, not the caller's credentials.
    """

    code = "genesys_auth_failed"


class GenesysForbidden(GenesysAuthError):
    """The OAuth client lacks a permission for this call (403)."""

    code = "genesys_forbidden"


class GenesysNotFound(GenesysError):
    """The addressed Genesys resource does not exist (404)."""

    code = "genesys_not_found"


class GenesysConflict(GenesysError):
    """The request conflicts with the resource's current state (409)."""

    code = "genesys_conflict"


class GenesysRateLimited(GenesysError):
    """Rate limited (429) past the retry budget or with a too long Retry-After.

    ``retry_after`` carries the platform's wait in seconds when it sent one.
    """

    code = "genesys_rate_limited"


class GenesysUnavailable(GenesysError):
    """Genesys could not be reached or is down: 502/503/504/408, connection errors,
    timeouts, after retries where they apply."""

    code = "genesys_unavailable"


class GenesysOutcomeUnknown(GenesysError):
    """A non-idempotent call (a flow launch) may or may not have taken effect.

    Raised after a 5xx or a failure once the request was sent; the caller must reconcile
    (genesys-api.md §2.3) instead of repeating the call.
    """

    code = "genesys_outcome_unknown"


class GenesysBadResponse(GenesysError):
    """A successful answer whose body cannot be understood."""

    code = "genesys_bad_response"


def error_from_response(
    response: httpx.Response, *, method: str, path: str, retry_safe: bool = True
) -> GenesysError:
    """Translate a non-2xx Platform API answer (``ErrorBody`` JSON or not) into an error.

    For a call that is not ``retry_safe`` a 5xx means the outcome is unknown.
    """
    body = json_object(response)
    status = response.status_code
    genesys_code = text(body, "code") or None
    correlation_id = response.headers.get(CORRELATION_HEADER) or text(body, "contextId")
    if body:
        reason = text(body, "message") or response.reason_phrase
    else:
        # CDN error pages (HTML) carry nothing worth repeating; the status says enough.
        reason = f"{response.reason_phrase} (non-JSON body)"
    message = f"Genesys {method} {path} answered {status}"
    if genesys_code:
        message += f" {genesys_code}"
    message += f": {reason}"
    kind = error_class(status)
    if not retry_safe and status >= 500:
        kind = GenesysOutcomeUnknown
        message += " (the request may have been processed)"
    error = kind(
        message,
        http_status=status,
        genesys_code=genesys_code,
        correlation_id=correlation_id,
        retry_after=retry_after_seconds(response.headers) if status == 429 else None,
    )
    error.body = body
    return error


def error_from_transport(
    exc: httpx.RequestError, *, method: str, path: str, retry_safe: bool = True
) -> GenesysError:
    """Translate a failure to get a usable answer at all.

    Connection failures are :class:`GenesysUnavailable`: nothing was sent. Once the
    request may have left (a read timeout, a dropped connection, an undecodable
    answer), a call that is not ``retry_safe`` has an unknown outcome.
    """
    message = f"Genesys {method} {path} failed: {type(exc).__name__}: {exc}"
    if isinstance(exc, _NOT_SENT):
        return GenesysUnavailable(message)
    if isinstance(exc, httpx.UnsupportedProtocol):
        return GenesysError(message)  # a misconfigured base URL; nothing was sent
    if not retry_safe:
        return GenesysOutcomeUnknown(message + " (the request may have been processed)")
    if isinstance(exc, _TRANSIENT):
        return GenesysUnavailable(message)
    return GenesysError(message)


def error_class(status: int) -> type[GenesysError]:
    """The exception type for a Genesys HTTP status."""
    if status == 401:
        return GenesysAuthError
    if status == 403:
        return GenesysForbidden
    if status == 404:
        return GenesysNotFound
    if status == 409:
        return GenesysConflict
    if status == 429:
        return GenesysRateLimited
    if status in (408, 502, 503, 504):
        return GenesysUnavailable
    if 400 <= status < 500:
        return GenesysBadRequest
    return GenesysError
