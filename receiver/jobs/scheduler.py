"""The scheduler of the periodic jobs (APScheduler), started and stopped by the lifespan.

Each job runs every so many seconds, the first time at once. A run still going when the
next one is due makes the scheduler skip that one (never two runs of a job at a time),
and runs missed meanwhile are not made up. Stopping lets each job's run in flight finish
(receiver.jobs.job) before the scheduler stops.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from receiver.jobs.job import Job
from receiver.jobs.retention import Retention
from receiver.jobs.rollups import RollupJob
from receiver.launches.sweep import Sweeper
from receiver.settings import Settings


@dataclass(frozen=True)
class Every:
    """A job, and the seconds from the start of one run to the start of the next."""

    job: Job[Any]
    seconds: float


class JobScheduler:
    """Runs each job of ``schedule`` on its interval, from :meth:`start` to :meth:`stop`."""

    def __init__(self, schedule: Sequence[Every]) -> None:
        self.schedule = tuple(schedule)
        self._scheduler = AsyncIOScheduler(timezone=UTC)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        sweeper: Sweeper,
        retention: Retention | None,
        rollups: RollupJob | None = None,
    ) -> JobScheduler:
        """The sweep unless ``FLOWTRACK_SWEEP_ENABLED`` is off, and retention and the
        rollups when given."""
        schedule = []
        if settings.sweep_enabled:
            schedule.append(Every(sweeper, settings.sweep_interval_seconds))
        if retention is not None:
            schedule.append(Every(retention, settings.retention_interval_seconds))
        if rollups is not None:
            schedule.append(Every(rollups, settings.rollups.interval_seconds))
        return cls(schedule)

    def start(self) -> None:
        """Schedule every job, each first run now; no scheduler runs when there is none."""
        for every in self.schedule:
            self._scheduler.add_job(
                every.job.run,
                "interval",
                seconds=every.seconds,
                id=every.job.name,
                max_instances=1,
                coalesce=True,
                next_run_time=datetime.now(UTC),
            )
        if self.schedule:
            self._scheduler.start()

    async def stop(self) -> None:
        """Let each job's run in flight finish, starting no new one; then stop scheduling."""
        for every in self.schedule:
            await every.job.close()
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
