"""What the client tells whoever keeps metrics about its calls (without knowing who).

The session reports each HTTP exchange, each retry and each token request here; the
application passes an observer that turns them into metrics (receiver.telemetry), tests
and scripts get the silent default.
"""

from __future__ import annotations

import re
from typing import Protocol

# A path segment that is an id (UUIDs, numbers, anything with a digit) rather than a word.
_ID_SEGMENT = re.compile(r"^(?=[^/]*\d)[^/]+$|^[^/]{33,}$")


class GenesysObserver(Protocol):
    """Receives one call per event; implementations must be cheap and never raise."""

    def responded(self, operation: str, status: str, seconds: float) -> None:
        """One HTTP exchange ended: ``status`` is the HTTP status or the transport error."""
        ...

    def retrying(self, operation: str, status: str) -> None:
        """A failed try (``status`` as above, 429 included) is about to be repeated."""
        ...

    def token_requested(self, status: str) -> None:
        """A new access token was requested (first one, expiry, or after a 401)."""
        ...


class SilentObserver:
    """The default: observes nothing."""

    def responded(self, operation: str, status: str, seconds: float) -> None:
        """Nothing."""

    def retrying(self, operation: str, status: str) -> None:
        """Nothing."""

    def token_requested(self, status: str) -> None:
        """Nothing."""


def operation_of(method: str, path: str) -> str:
    """``GET /api/v2/flows/executions/{id}`` for ``GET /api/v2/flows/executions/7f3…``:
    the request with its ids replaced, a label value that stays bounded."""
    segments = [
        "{id}" if _ID_SEGMENT.match(part) and part != "v2" else part
        for part in path.split("?", 1)[0].split("/")
    ]
    return f"{method} {'/'.join(segments)}"
