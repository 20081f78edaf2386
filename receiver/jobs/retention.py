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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from receiver.jobs.job import Job
from receiver.launches.stops import REMEMBER
from receiver.settings import Settings
from storage.errors import StorageError
from storage.retention import Position, RetentionStore

log = logging.getLogger("flowtrack.retention")
T = TypeVar("T")


@dataclass(frozen=True)
class RetentionPolicy:
    """How much to keep and how gently to delete the rest (from settings)."""

    days: int
    batch_size: int = 1000
    budget_seconds: float = 1800.0
    min_pause_seconds: float = 0.05

    @classmethod
    def from_settings(cls, settings: Settings) -> RetentionPolicy | None:
        """The policy ``FLOWTRACK_RETENTION_*`` set; None: retention is off."""
        if settings.retention_days is None:
            return None
        return cls(
            days=settings.retention_days,
            batch_size=settings.retention_batch_size,
            # A run that cannot finish leaves the rest to the next one.
            budget_seconds=settings.retention_interval_seconds / 2,
        )


@dataclass
class RetentionReport:
    """What one run deleted (logged, and returned to tests)."""

    events: int = 0
    launches: int = 0
    dead_letters: int = 0
    audit: int = 0
    action_runs: int = 0
    webhook_messages: int = 0
    tracking: int = 0
    batches: int = 0
    complete: bool = False


class Retention(Job[RetentionReport]):
    """Runs retention passes (the scheduled job)."""

    name = "retention"

    def __init__(self, store: RetentionStore, policy: RetentionPolicy) -> None:
        super().__init__(RetentionReport)
        self._store = store
        self._policy = policy
        self._pause = 0.0

    async def _run(self, report: RetentionReport, now: datetime) -> None:
        """Delete what is older than the period, until done or out of time."""
        self._pause = 0.0
        started = time.monotonic()
        cutoff = now - timedelta(days=self._policy.days)
        try:
            report.complete = await self._pass(report, cutoff, now, started)
        except StorageError as exc:
            # Nothing is lost: the next run starts over from what is left.
            log.warning(str(exc), extra={"action": "retention.failed", **report.__dict__})
            return
        log.info(
            "retention run",
            extra={
                "action": "retention.deleted",
                **report.__dict__,
                "cutoff": cutoff.isoformat(),
                "ms": round((time.monotonic() - started) * 1000, 1),
            },
        )

    async def _pass(
        self, report: RetentionReport, cutoff: datetime, now: datetime, started: float
    ) -> bool:
        """One pass over the four tables; False when it stopped before the end."""
        store, limit = self._store, self._policy.batch_size
        deadline = started + self._policy.budget_seconds
        after: Position | None = None
        while await self._may_continue(deadline):
            batch = await self._batch(
                store.delete_old_events(cutoff=cutoff, after=after, limit=limit)
            )
            report.events += batch.deleted
            report.batches += 1
            after = batch.after
            if after is None:
                break
        else:  # out of time, or closing
            return False
        # The other tables are deleted oldest first, a batch at a time, until a batch
        # comes back short.
        passes: tuple[tuple[str, Callable[[], Awaitable[int]]], ...] = (
            (
                "launches",
                lambda: store.delete_finished_launches(
                    cutoff=cutoff, now=now, keep_stopped_since=now - REMEMBER, limit=limit
                ),
            ),
            ("dead_letters", lambda: store.delete_old_dead_letters(cutoff=cutoff, limit=limit)),
            ("audit", lambda: store.delete_old_audit(cutoff=cutoff, limit=limit)),
            ("action_runs", lambda: store.delete_old_action_runs(cutoff=cutoff, limit=limit)),
            (
                "webhook_messages",
                lambda: store.delete_finished_webhook_messages(cutoff=cutoff, limit=limit),
            ),
            ("tracking", lambda: store.delete_old_tracking(cutoff=cutoff, limit=limit)),
        )
        for counted, delete in passes:
            while await self._may_continue(deadline):
                deleted = await self._batch(delete())
                setattr(report, counted, getattr(report, counted) + deleted)
                report.batches += 1
                if deleted < limit:
                    break
            else:
                return False
        return True

    async def _batch(self, deletion: Awaitable[T]) -> T:
        begun = time.monotonic()
        try:
            return await deletion
        finally:
            # Ingestion gets three times as long as the batch held the database.
            self._pause = max(3 * (time.monotonic() - begun), self._policy.min_pause_seconds)

    async def _may_continue(self, deadline: float) -> bool:
        if self.closing or time.monotonic() >= deadline:
            return False
        await asyncio.sleep(self._pause)
        return not self.closing
