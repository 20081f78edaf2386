"""The job skeleton: runs that report, and a close that lets the run in flight finish."""

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

from receiver.jobs.job import Job

THEN = datetime(2026, 3, 2, 10, 15, tzinfo=UTC)


@dataclass
class Counted:
    runs: int = 0
    at: datetime | None = None
    finished: bool = False


class Slow(Job[Counted]):
    name = "slow"

    def __init__(self) -> None:
        super().__init__(Counted)
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def _run(self, report: Counted, now: datetime) -> None:
        report.runs += 1
        report.at = now
        self.started.set()
        await self.release.wait()
        report.finished = True


async def test_a_run_reports_what_it_did_at_the_time_given() -> None:
    job = Slow()
    job.release.set()
    report = await job.run(now=THEN)
    assert report == Counted(runs=1, at=THEN, finished=True)
    assert (await job.run()).at != THEN  # the current time by default


async def test_close_waits_for_the_run_in_flight_and_later_runs_do_nothing() -> None:
    job = Slow()
    running = asyncio.create_task(job.run())
    await job.started.wait()
    closing = asyncio.create_task(job.close())
    await asyncio.sleep(0.05)
    assert not closing.done()
    assert job.closing
    job.release.set()
    await closing
    assert (await running).finished
    assert await job.run() == Counted()


async def test_close_waits_for_every_run_in_flight() -> None:
    job = Slow()
    first = asyncio.create_task(job.run())
    second = asyncio.create_task(job.run())
    await asyncio.sleep(0.01)
    closing = asyncio.create_task(job.close())
    await asyncio.sleep(0.05)
    assert not closing.done()
    job.release.set()
    await asyncio.gather(first, second, closing)


async def test_closing_an_idle_job_returns_at_once() -> None:
    await asyncio.wait_for(Slow().close(), 1)
