"""Whether Genesys accepts flowtrack's OAuth client, checked once at start.

A wrong secret would otherwise surface only at the first launch or sweep. The check is
never fatal: flowtrack still serves callbacks and history, and ``/readyz`` shows what
Genesys answered.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Literal

from receiver.genesys import GenesysClient
from receiver.genesys.errors import GenesysAuthError, GenesysError

log = logging.getLogger("flowtrack.genesys")

CheckState = Literal["not_configured", "checking", "accepted", "refused", "unreachable"]
CHECK_STATES: tuple[CheckState, ...] = (
    "not_configured",
    "checking",
    "accepted",
    "refused",
    "unreachable",
)


class GenesysCheck:
    """The outcome of asking Genesys for a token with flowtrack's client credentials."""

    def __init__(self, client: GenesysClient | None) -> None:
        self._client = client
        self.state: CheckState = "not_configured" if client is None else "checking"
        self.detail: str | None = None
        self.checked_at: datetime | None = None

    async def run(self) -> None:
        """Request a token once; log and keep the outcome."""
        if self._client is None:
            return
        try:
            await self._client.check_credentials()
        except GenesysAuthError as exc:
            self._done("refused", exc.message)
            log.warning(exc.message, extra={"action": "genesys.credentials_refused"})
        except GenesysError as exc:
            self._done("unreachable", exc.message)
            log.warning(exc.message, extra={"action": "genesys.unreachable"})
        else:
            self._done("accepted", None)
            log.info(
                "Genesys accepted the OAuth client",
                extra={"action": "genesys.credentials_accepted"},
            )

    def _done(self, state: CheckState, detail: str | None) -> None:
        self.state, self.detail, self.checked_at = state, detail, datetime.now(UTC)
