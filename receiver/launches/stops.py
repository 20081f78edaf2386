"""Which flows are told to stop: the ``command`` of every callback answer.

Once flowtrack has timed out or terminated a launch, the next callback from that flow is
answered ``"command": "stop"`` so the flow can end itself (a workflow cannot be stopped
through the API). The hot path only does set lookups; the sets are refreshed from the
database every few seconds, so every replica answers the same, and this process adds
its own decisions immediately.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from receiver.jobs.task import BackgroundTask
from storage.errors import StorageError
from storage.records import EventRecord
from storage.sweeps import SweepStore

log = logging.getLogger("flowtrack.stops")

CONTINUE = "continue"
STOP = "stop"
# How long a flow keeps being told to stop after flowtrack ended its launch.
REMEMBER = timedelta(days=7)


class StopList(BackgroundTask):
    """The launch, execution and conversation ids whose flows must stop."""

    task_name = "flowtrack-stops"

    def __init__(self, sweeps: SweepStore, *, refresh_seconds: float = 2.0) -> None:
        self._sweeps = sweeps
        self._refresh_seconds = refresh_seconds
        self._keys: set[str] = set()

    def command_for(self, events: Sequence[EventRecord]) -> str:
        """``stop`` when any of the events belongs to a flow that was told to stop."""
        keys = self._keys
        if not keys:
            return CONTINUE
        for event in events:
            if (
                event.launch_id in keys
                or event.flow_execution_id in keys
                or event.conversation_id in keys
            ):
                return STOP
        return CONTINUE

    def add(self, launch_id: str, execution_id: str | None, conversation_id: str | None) -> None:
        self._keys = self._keys | {k for k in (launch_id, execution_id, conversation_id) if k}

    async def reload(self) -> None:
        """Read the current list from the database."""
        since = datetime.now(UTC) - REMEMBER
        rows = await self._sweeps.stopped_keys(since=since)
        self._keys = {key for row in rows for key in row if key}

    async def _run(self) -> None:
        while True:
            try:
                await self.reload()
            except StorageError as exc:
                log.warning(str(exc), extra={"action": "stops.reload_failed"})
            await asyncio.sleep(self._refresh_seconds)
