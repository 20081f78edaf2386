"""Flow names, for the flows list and statistics: asked of Genesys Cloud once, then kept.

Events and launches carry flow ids only (a data action callback may not name its flow,
and the launch response does not), so the one source that knows every flow's name is
Genesys itself (``GET /api/v2/flows?id=…``). Each id is asked once per process; a
failed lookup is retried after :data:`RETRY_SECONDS`, meanwhile the names are null.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable

from receiver.genesys import GenesysClient
from receiver.genesys.client import FLOW_IDS_PER_CALL
from receiver.genesys.errors import GenesysError

log = logging.getLogger("flowtrack.flows")

RETRY_SECONDS = 300.0


class FlowNames:
    """Flow names by id from Genesys, each asked once and kept for the process's life.

    Without Genesys credentials every name is null. Ids that are not UUIDs cannot be
    Genesys flows and are never asked about.
    """

    def __init__(
        self, genesys: GenesysClient | None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._genesys = genesys
        self._clock = clock
        self._names: dict[str, str | None] = {}
        self._failed_at: float | None = None

    async def names(self, flow_ids: Iterable[str]) -> dict[str, str | None]:
        """The name of each flow id (None: unknown, or Genesys unavailable)."""
        wanted = list(dict.fromkeys(flow_ids))
        missing = [flow_id for flow_id in wanted if flow_id not in self._names]
        if missing and self._genesys is not None and self._may_ask():
            await self._ask(self._genesys, missing)
        return {flow_id: self._names.get(flow_id) for flow_id in wanted}

    def _may_ask(self) -> bool:
        return self._failed_at is None or self._clock() - self._failed_at >= RETRY_SECONDS

    async def _ask(self, genesys: GenesysClient, flow_ids: list[str]) -> None:
        askable = []
        for flow_id in flow_ids:
            if _is_uuid(flow_id):
                askable.append(flow_id)
            else:
                self._names[flow_id] = None
        for start in range(0, len(askable), FLOW_IDS_PER_CALL):
            batch = askable[start : start + FLOW_IDS_PER_CALL]
            try:
                found = await genesys.flow_names(batch)
            except GenesysError as exc:
                self._failed_at = self._clock()
                log.warning(
                    f"flow names unavailable: {exc.message}",
                    extra={"action": "flows.names_failed", "flows": len(batch)},
                )
                return
            self._failed_at = None
            for flow_id in batch:
                self._names[flow_id] = found.get(flow_id)


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
