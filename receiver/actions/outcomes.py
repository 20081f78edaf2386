"""What a failed execute means: the run's state, its failure reason, and whether it may
be tried again.

Genesys answers a failed data action in two shapes (genesys-api.md §16.C.4): an
``ErrorBody`` whose ``details[].errorCode`` is ``ACTION.*``, and an older one with
``errorCode``/``userMessage``/``correlationId``. Both are read here.

Execute has side effects, so a failure is repeated without asking only when Genesys
certainly did not run the action: a 429 (refused before processing) or a connection
that never opened. Anything that may have reached the remote endpoint (a 5xx, a
timeout, a lost answer) is repeated only for a run that says it is ``idempotent``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from receiver.genesys.errors import (
    GenesysAuthError,
    GenesysBadResponse,
    GenesysError,
    GenesysNotFound,
    GenesysOutcomeUnknown,
    GenesysRateLimited,
    GenesysUnavailable,
)
from storage.action_runs import FAILED, TIMED_OUT

#: ``details[].errorCode`` → failure reason.
ACTION_CODES = {
    "ACTION.REMOTE_ENDPOINT": "remote_endpoint",
    "ACTION.AUTHENTICATION": "authentication",
    "ACTION.CERTIFICATE": "certificate",
    "ACTION.PROCESSING": "processing",
    "ACTION.INPUT_VALIDATION": "validation",
    "ACTION.TIMEOUT": "timed_out",
}
#: Every failure reason a run may carry.
FAILURE_REASONS = (
    "validation",
    "remote_endpoint",
    "authentication",
    "certificate",
    "processing",
    "timed_out",
    "rate_limited",
    "unreachable",
    "connection_lost",
    "not_found",
    "not_authorized",
    "platform",
    "rejected",
    "bad_response",
    "test_failed",
    "cancelled",
    "interrupted",
)


@dataclass(frozen=True)
class Failure:
    """A classified failure of one attempt."""

    state: str
    reason: str
    #: Genesys certainly did not act: repeating is safe for any run.
    not_executed: bool
    #: It may have acted, but repeating would be harmless for an idempotent run.
    transient: bool
    error_codes: tuple[str, ...]


def classify(error: GenesysError) -> Failure:
    """The state and reason of a run whose attempt ended in ``error``."""
    codes = error_codes(error.body)
    status = error.http_status
    for code in codes:
        reason = ACTION_CODES.get(code)
        if reason is not None:
            state = TIMED_OUT if reason == "timed_out" else FAILED
            transient = reason == "timed_out" or (status or 0) >= 500
            return Failure(state, reason, False, transient, codes)
    if isinstance(error, GenesysRateLimited):
        return Failure(FAILED, "rate_limited", True, True, codes)
    if isinstance(error, GenesysUnavailable) and status is None:
        # retry_safe=False turns every failure after sending into OutcomeUnknown: here
        # no connection was made.
        return Failure(FAILED, "unreachable", True, True, codes)
    if status in (408, 504):
        return Failure(TIMED_OUT, "timed_out", False, True, codes)
    if isinstance(error, GenesysOutcomeUnknown) and status is None:
        timed_out = "Timeout" in error.message
        reason = "timed_out" if timed_out else "connection_lost"
        return Failure(TIMED_OUT if timed_out else FAILED, reason, False, True, codes)
    if isinstance(error, GenesysAuthError):
        return Failure(FAILED, "not_authorized", False, False, codes)
    if isinstance(error, GenesysNotFound):
        return Failure(FAILED, "not_found", False, False, codes)
    if isinstance(error, GenesysBadResponse):
        return Failure(FAILED, "bad_response", False, False, codes)
    if status is not None and status >= 500:
        return Failure(FAILED, "platform", False, True, codes)
    return Failure(FAILED, "rejected", False, False, codes)


def error_codes(body: dict[str, Any]) -> tuple[str, ...]:
    """Every ``details[].errorCode`` of an error body and of its nested ``errors``."""
    found: list[str] = []
    pending = [body]
    while pending:
        current = pending.pop()
        for detail in _dicts(current.get("details")):
            code = detail.get("errorCode")
            if isinstance(code, str) and code not in found:
                found.append(code)
        pending.extend(_dicts(current.get("errors")))
    return tuple(found)


def error_json(error: GenesysError, failure: Failure) -> dict[str, Any]:
    """What a run keeps of a failure: status, codes, message and the body as sent."""
    body = error.body
    message = body.get("message") or body.get("userMessage") or error.message
    return {
        "status": error.http_status,
        "code": error.genesys_code or body.get("errorCode"),
        "errorCodes": list(failure.error_codes),
        "message": message,
        "correlationId": correlation_id(error),
        "body": body or None,
    }


def correlation_id(error: GenesysError) -> str | None:
    """The header's id, else the body's ``contextId`` or (older shape) ``correlationId``."""
    found = error.correlation_id or error.body.get("correlationId")
    return found if isinstance(found, str) else None


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
