"""How a refused launch answers: its status, by what the platform said.

One table, :data:`REFUSALS`, gives both the answers and their OpenAPI declarations.
"""

from __future__ import annotations

from pydantic import BaseModel

from receiver.genesys.errors import (
    GenesysAuthError,
    GenesysBadRequest,
    GenesysBadResponse,
    GenesysConflict,
    GenesysError,
    GenesysForbidden,
    GenesysNotFound,
    GenesysOutcomeUnknown,
    GenesysRateLimited,
    GenesysUnavailable,
)
from receiver.web.operations import Failure

#: How a refused launch answers, by what the platform said; the first match wins. The
#: answers and the OpenAPI document both come from this table.
REFUSALS: tuple[tuple[type[GenesysError], int, str], ...] = (
    (
        GenesysOutcomeUnknown,
        502,
        "The platform failed after the request was sent: the flow "
        "may be running. The launch stays `pending`; nothing is launched again.",
    ),
    (GenesysRateLimited, 503, "Rate limited past the retry budget."),
    (GenesysUnavailable, 503, "The platform is unreachable."),
    (GenesysForbidden, 502, "flowtrack's OAuth client lacks a permission."),
    (GenesysAuthError, 502, "flowtrack's OAuth client was refused."),
    (GenesysBadResponse, 502, "The platform answered nonsense."),
    (GenesysBadRequest, 422, "The platform refused the input."),
    (GenesysNotFound, 422, "The platform knows no such flow (version)."),
    (GenesysConflict, 422, "The flow cannot be launched now."),
)


def refusal_status(cause: GenesysError) -> int:
    """The status of a refused launch: the table's, else 422 for a 4xx, else 502."""
    for kind, status, _ in REFUSALS:
        if isinstance(cause, kind):
            return status
    return 422 if cause.http_status is not None and 400 <= cause.http_status < 500 else 502


def refusal_failures(detail: type[BaseModel]) -> tuple[Failure, ...]:
    """The failures a launch declares for refusals, each with ``detail`` as its body."""
    declared = [
        Failure(
            status,
            "launch_outcome_unknown" if kind is GenesysOutcomeUnknown else kind.code,
            text,
            detail,
        )
        for kind, status, text in REFUSALS
    ]
    declared.append(
        Failure.of(
            GenesysError, "The platform refused it (another 4xx).", status=422, detail=detail
        )
    )
    declared.append(Failure.of(GenesysError, "The platform failed.", status=502, detail=detail))
    return tuple(declared)
