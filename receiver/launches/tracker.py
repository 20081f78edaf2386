"""Following launches as their events arrive, off the callback's response path.

The writer tells the tracker which correlation keys each commit stored; the tracker
coalesces them and, in a worker thread, attributes the events to launches and moves the
launches' state forward (storage.tracking.refresh). A failed refresh keeps its keys for
the next round, so a database hiccup delays tracking but loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from receiver.jobs.task import BackgroundTask
from storage.errors import StorageError
from storage.launches import LaunchStore
from storage.records import EventRecord

log = logging.getLogger("flowtrack.tracker")


class LaunchTracker(BackgroundTask):
    """Coalesces touched keys and refreshes the launches they name."""

    task_name = "flowtrack-tracker"

    def __init__(
        self,
        launches: LaunchStore,
        *,
        retry_seconds: float = 1.0,
        interval_seconds: float = 0.05,
    ) -> None:
        """``interval_seconds``: the least time between two refreshes."""
        self._launches = launches
        self._retry_seconds = retry_seconds
        self._interval_seconds = interval_seconds
        self._launch_ids: set[str] = set()
        self._execution_ids: set[str] = set()
        self._conversation_ids: set[str] = set()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()

    def notice(self, rows: Sequence[EventRecord]) -> None:
        """Events were stored (called on the event loop by the writer)."""
        for row in rows:
            if row.launch_id is not None:
                self._launch_ids.add(row.launch_id)
            if row.flow_execution_id is not None:
                self._execution_ids.add(row.flow_execution_id)
            if row.conversation_id is not None:
                self._conversation_ids.add(row.conversation_id)
        self._signal()

    def notice_launch(self, launch_id: str) -> None:
        """A launch learned a key (execution or conversation id): look at it again."""
        self._launch_ids.add(launch_id)
        self._signal()

    async def settled(self) -> None:
        """Wait until everything noticed so far has been refreshed (tests, shutdown)."""
        await self._idle.wait()

    async def settled_or_timeout(self, seconds: float) -> None:
        """Like :meth:`settled`, but give up after ``seconds`` (shutdown must end)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), seconds)

    def _signal(self) -> None:
        self._idle.clear()
        self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            launch_ids, self._launch_ids = self._launch_ids, set()
            execution_ids, self._execution_ids = self._execution_ids, set()
            conversation_ids, self._conversation_ids = self._conversation_ids, set()
            try:
                await self._launches.refresh(
                    launch_ids=launch_ids,
                    execution_ids=execution_ids,
                    conversation_ids=conversation_ids,
                    now=datetime.now(UTC),
                )
            except StorageError as exc:
                log.warning(str(exc), extra={"action": "tracker.refresh_failed"})
                self._launch_ids |= launch_ids
                self._execution_ids |= execution_ids
                self._conversation_ids |= conversation_ids
                await asyncio.sleep(self._retry_seconds)
                self._wake.set()
                continue
            if not self._wake.is_set():
                self._idle.set()
            # Under load every commit notices keys; gathering them for a moment turns a
            # refresh per commit into one per interval, and leaves the writer the lock.
            await asyncio.sleep(self._interval_seconds)
