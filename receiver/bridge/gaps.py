"""Gaps as the bridge sees them: listening stopped at some moment, and resumed.

Each channel has its own recorder: one open gap at a time, stored as soon as it opens
(``GET /api/v1/tracking`` shows it while it lasts) and closed when a socket listens
again. A database error is logged, never fatal to the socket.
"""

from __future__ import annotations

import logging
from datetime import datetime

from storage.errors import StorageError
from storage.gaps import GapStore

log = logging.getLogger("flowtrack.bridge")


class ChannelGaps:
    """Records one channel's gaps (see :class:`receiver.bridge.channel.GapRecorder`)."""

    def __init__(self, store: GapStore, holder: str, *, backfill: str) -> None:
        """``backfill``: what a closed gap's window becomes (``storage.gaps.BACKFILLS``)."""
        self._store = store
        self._holder = holder
        self._backfill = backfill
        self._open: tuple[int, datetime] | None = None
        #: Gaps recorded since start (a metric).
        self.recorded = 0

    async def lost(self, since: datetime, reason: str) -> None:
        """Nothing has listened since ``since``."""
        if self._open is not None:
            return
        try:
            gap_id = await self._store.open(since, reason, self._holder)
        except StorageError as exc:
            log.error(f"gap not recorded: {exc}", extra={"action": "bridge.gap_failed"})
            return
        self._open = (gap_id, since)
        self.recorded += 1
        log.warning(
            f"notifications are not being received since {since.isoformat()} ({reason})",
            extra={"action": "bridge.gap", "gap_id": gap_id, "reason": reason},
        )

    async def restored(self, at: datetime) -> None:
        """A socket listens again from ``at``."""
        if self._open is None:
            return
        gap_id, since = self._open
        try:
            await self._store.close(gap_id, at, self._backfill)
        except StorageError as exc:
            log.error(f"gap not closed: {exc}", extra={"action": "bridge.gap_failed"})
            return
        self._open = None
        log.info(
            f"notifications received again after {(at - since).total_seconds():.1f} s",
            extra={"action": "bridge.gap_closed", "gap_id": gap_id, "backfill": self._backfill},
        )
