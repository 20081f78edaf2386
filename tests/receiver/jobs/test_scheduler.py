"""The scheduler: each job on its interval, first at once, stopped after its last run."""

import asyncio
from dataclasses import dataclass
from datetime import datetime

from receiver.jobs.job import Job
from receiver.jobs.retention import Retention, RetentionPolicy
from receiver.jobs.scheduler import Every, JobScheduler
from receiver.launches.sweep import Sweeper, SweepPolicy
from tests.conftest import settings_for


@dataclass
class Ran:
    pass


class Counting(Job[Ran]):
    def __init__(self, name: str, *, seconds: float = 0.0) -> None:
        super().__init__(Ran)
        self.name = name
        self.seconds = seconds
        self.started = 0
        self.finished = 0

    async def _run(self, report: Ran, now: datetime) -> None:
        self.started += 1
        await asyncio.sleep(self.seconds)
        self.finished += 1


async def test_each_job_runs_at_once_then_on_its_interval() -> None:
    often, rarely = Counting("often"), Counting("rarely")
    scheduler = JobScheduler([Every(often, 0.05), Every(rarely, 60)])
    scheduler.start()
    await asyncio.sleep(0.3)
    await scheduler.stop()
    assert often.finished >= 3
    assert rarely.finished == 1


async def test_a_run_is_never_doubled_and_stopping_lets_it_finish() -> None:
    slow = Counting("slow", seconds=0.3)
    scheduler = JobScheduler([Every(slow, 0.05)])
    scheduler.start()
    await asyncio.sleep(0.1)
    await scheduler.stop()
    assert (slow.started, slow.finished) == (1, 1)
    await asyncio.sleep(0.1)
    assert slow.started == 1


async def test_without_jobs_nothing_is_scheduled() -> None:
    scheduler = JobScheduler([])
    scheduler.start()
    await scheduler.stop()


def test_the_settings_choose_the_jobs_and_their_intervals() -> None:
    sweeper = Sweeper(None, None, None, None, None, None, SweepPolicy())  # type: ignore[arg-type]
    retention = Retention(None, RetentionPolicy(days=30))  # type: ignore[arg-type]
    url = "sqlite:///x.db"
    default = JobScheduler.from_settings(settings_for(url), sweeper=sweeper, retention=None)
    assert [(every.job.name, every.seconds) for every in default.schedule] == [("sweep", 10.0)]
    both = JobScheduler.from_settings(
        settings_for(url, FLOWTRACK_SWEEP_INTERVAL="2", FLOWTRACK_RETENTION_INTERVAL="60"),
        sweeper=sweeper,
        retention=retention,
    )
    assert [(every.job, every.seconds) for every in both.schedule] == [
        (sweeper, 2.0),
        (retention, 60.0),
    ]
    off = settings_for(url, FLOWTRACK_SWEEP_ENABLED="0")
    assert JobScheduler.from_settings(off, sweeper=sweeper, retention=None).schedule == ()


def test_the_policies_come_from_the_settings() -> None:
    settings = settings_for(
        "sqlite:///x.db",
        FLOWTRACK_SWEEP_BATCH_SIZE="7",
        FLOWTRACK_SWEEP_CLAIM_SECONDS="30",
        FLOWTRACK_SWEEP_CONFIRM_SECONDS="0.5",
        FLOWTRACK_TERMINATION_MAX_ATTEMPTS="3",
        FLOWTRACK_RETENTION_DAYS="90",
        FLOWTRACK_RETENTION_BATCH_SIZE="500",
        FLOWTRACK_RETENTION_INTERVAL="600",
    )
    assert SweepPolicy.from_settings(settings) == SweepPolicy(
        batch_size=7, claim_seconds=30, confirm_seconds=0.5, max_attempts=3
    )
    assert RetentionPolicy.from_settings(settings) == RetentionPolicy(
        days=90, batch_size=500, budget_seconds=300.0
    )
    assert RetentionPolicy.from_settings(settings_for("sqlite:///x.db")) is None
