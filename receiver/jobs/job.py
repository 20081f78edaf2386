"""The skeleton of a scheduled job: runs that say what they did, and a close that waits.

receiver.jobs.scheduler calls :meth:`Job.run` on the job's interval (never two runs of
one job at once). At shutdown :meth:`Job.close` starts no new run and lets the run in
flight finish, so nothing is cut off halfway; a run called after that does nothing and
returns an empty report.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Generic, TypeVar

Report = TypeVar("Report")


class Job(Generic[Report]):
    """A periodic job: subclasses do one run's work in :meth:`_run`, filling ``report``."""

    #: The scheduler's id for the job, and the word its logs use.
    name = "job"

    def __init__(self, report: Callable[[], Report]) -> None:
        """``report`` makes the empty report a run starts with."""
        self._report = report
        self._idle = asyncio.Event()
        self._idle.set()
        self._running = 0
        self._closing = False

    @property
    def closing(self) -> bool:
        """True once :meth:`close` was called: work in flight should wind down."""
        return self._closing

    async def run(self, now: datetime | None = None) -> Report:
        """One run at ``now`` (default: the current time); returns what it did."""
        report = self._report()
        if self._closing:
            return report
        self._running += 1
        self._idle.clear()
        try:
            await self._run(report, now or datetime.now(UTC))
        finally:
            self._running -= 1
            if not self._running:
                self._idle.set()
        return report

    async def close(self) -> None:
        """Start no new run and wait for the one in flight."""
        self._closing = True
        await self._idle.wait()

    async def _run(self, report: Report, now: datetime) -> None:
        raise NotImplementedError
