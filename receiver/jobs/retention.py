"""The retention job: every ``FLOWTRACK_RETENTION_INTERVAL`` seconds, delete what is older
than ``FLOWTRACK_RETENTION_DAYS`` (storage.retention says what), a batch at a time.

Ingestion comes first. Each batch is its own short transaction, and after each one the
job pauses three times as long as the batch took (at least ``min_pause_seconds``), so
the ingest writer — which on SQLite needs the one write lock — waits at most one batch
and the job holds the database at most a quarter of the time. A run stops when nothing
old is left, after its time budget (the rest waits for the next run), or when the app
shuts down; one line ``retention.deleted`` says what it did.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from receiver.launches.stops import REMEMBER
from storage import retention as store
from storage.errors import StorageError

log = logging.getLogger("flowtrack.retention")
T = TypeVar("T")


@dataclass(frozen=True)
class RetentionPolicy:
    """How much to keep and how gently to delete the rest (from settings)."""

    days: int
    batch_size: int = 1000
    budget_seconds: float = 1800.0
    min_pause_seconds: float = 0.05


@dataclass
class RetentionReport:
    """What one run deleted (logged, and returned to tests)."""

    events: int = 0
    launches: int = 0
    dead_letters: int = 0
    batches: int = 0
    complete: bool = False


class Retention:
    """Runs retention passes (the scheduled job)."""

    def __init__(self, engine: Engine, policy: RetentionPolicy) -> None:
        self._engine = engine
        self._policy = policy
        self._idle = asyncio.Event()
        self._idle.set()
        self._closing = False
        self._pause = 0.0

    async def run(self, now: datetime | None = None) -> RetentionReport:
        """Delete what is older than the period, until done or out of time."""
        report = RetentionReport()
        if self._closing:
            return report
        self._idle.clear()
        self._pause = 0.0
        started = time.monotonic()
        now = now or datetime.now(UTC)
        cutoff = now - timedelta(days=self._policy.days)
        try:
            report.complete = await self._pass(report, cutoff, now, started)
        except StorageError as exc:
            # Nothing is lost: the next run starts over from what is left.
            log.warning(str(exc), extra={"action": "retention.failed", **report.__dict__})
            return report
        finally:
            self._idle.set()
        log.info(
            "retention run",
            extra={
                "action": "retention.deleted",
                **report.__dict__,
                "cutoff": cutoff.isoformat(),
                "ms": round((time.monotonic() - started) * 1000, 1),
            },
        )
        return report

    async def close(self) -> None:
        """Start no new batch and wait for the one in flight."""
        self._closing = True
        await self._idle.wait()

    async def _pass(
        self, report: RetentionReport, cutoff: datetime, now: datetime, started: float
    ) -> bool:
        """One pass over the three tables; False when it stopped before the end."""
        engine, limit = self._engine, self._policy.batch_size
        deadline = started + self._policy.budget_seconds
        after: store.Position | None = None
        while await self._may_continue(deadline):
            batch = await self._batch(
                store.delete_old_events, engine, cutoff=cutoff, after=after, limit=limit
            )
            report.events += batch.deleted
            report.batches += 1
            after = batch.after
            if after is None:
                break
        else:  # out of time, or closing
            return False
        while await self._may_continue(deadline):
            deleted = await self._batch(
                store.delete_finished_launches,
                engine,
                cutoff=cutoff,
                now=now,
                keep_stopped_since=now - REMEMBER,
                limit=limit,
            )
            report.launches += deleted
            report.batches += 1
            if deleted < limit:
                break
        else:
            return False
        while await self._may_continue(deadline):
            deleted = await self._batch(
                store.delete_old_dead_letters, engine, cutoff=cutoff, limit=limit
            )
            report.dead_letters += deleted
            report.batches += 1
            if deleted < limit:
                return True
        return False

    async def _batch(self, function: Callable[..., T], *args: Any, **keywords: Any) -> T:
        begun = time.monotonic()
        try:
            return await run_in_threadpool(function, *args, **keywords)
        finally:
            # Ingestion gets three times as long as the batch held the database.
            self._pause = max(3 * (time.monotonic() - begun), self._policy.min_pause_seconds)

    async def _may_continue(self, deadline: float) -> bool:
        if self._closing or time.monotonic() >= deadline:
            return False
        await asyncio.sleep(self._pause)
        return not self._closing
