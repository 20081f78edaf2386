"""The rollup job: every ``FLOWTRACK_ROLLUP_INTERVAL`` seconds, take the new events and
changed launches into the rollups (storage.rollups), a batch at a time, and once an hour
delete what is past the rollups' own retention (storage.rollup_retention).

A run takes batches until none is full, resting as long as each batch took (the work is
Python in the serving process: ingestion keeps at least half of it), so under a steady
ingest the rollups stay about one interval behind. Every replica may run it: a batch
commits only if no other advancer committed since it began (one commits, the other's is
dropped and redone).
One ``rollups.advanced`` line per run that took something; a failure is logged and the
next run starts over from the stored position.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from receiver.jobs.job import Job
from receiver.settings.rollups import RollupsConfig
from storage.errors import StorageError
from storage.rollups import RollupStore

log = logging.getLogger("flowtrack.rollups")

PRUNE_EVERY = timedelta(hours=1)


@dataclass
class RollupReport:
    """What one run did (logged, and returned to tests)."""

    events: int = 0
    runs: int = 0
    launches: int = 0
    batches: int = 0
    conflicts: int = 0
    pruned: int = 0
    caught_up: bool = False


class RollupJob(Job[RollupReport]):
    """Advances the rollups (the scheduled job)."""

    name = "rollups"

    def __init__(
        self,
        store: RollupStore,
        config: RollupsConfig,
        *,
        events_retention_days: int | None = None,
        budget_seconds: float = 10.0,
    ) -> None:
        super().__init__(RollupReport)
        self._store = store
        self._config = config
        self._events_days = events_retention_days
        self._budget = budget_seconds
        self._pruned_at: datetime | None = None
        self._warned_at: datetime | None = None

    async def _run(self, report: RollupReport, now: datetime) -> None:
        started = time.monotonic()
        try:
            await self._advance(report, started)
            if self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY:
                await self._prune(report, now)
        except StorageError as exc:
            # Runs come every second or so: one line a minute while it keeps failing
            # (a database down, a schema not migrated yet).
            if self._warned_at is None or now - self._warned_at >= timedelta(minutes=1):
                self._warned_at = now
                log.warning(str(exc), extra={"action": "rollups.failed", **report.__dict__})
            return
        self._warned_at = None
        if report.events or report.launches or report.pruned:
            log.info(
                "rollups advanced",
                extra={
                    "action": "rollups.advanced",
                    **report.__dict__,
                    "ms": round((time.monotonic() - started) * 1000, 1),
                },
            )

    async def _advance(self, report: RollupReport, started: float) -> None:
        while not self.closing and time.monotonic() - started < self._budget:
            begun = time.monotonic()
            batch = await self._store.advance(limit=self._config.batch_events)
            report.batches += 1
            report.events += batch.events
            report.runs += batch.runs
            report.launches += batch.launches
            report.conflicts += batch.conflict
            if not batch.more and not batch.conflict:
                report.caught_up = True
                return
            # Ingestion comes first: a batch computes in this process (and holds the
            # GIL much of the time), so the job rests as long as the batch took.
            await asyncio.sleep(time.monotonic() - begun)

    async def _prune(self, report: RollupReport, now: datetime) -> None:
        config = self._config
        pruned = await self._store.prune(
            hourly_before=now - timedelta(days=config.hourly_days),
            daily_before=None
            if config.retention_days is None
            else now - timedelta(days=config.retention_days),
            events_before=None
            if self._events_days is None
            else now - timedelta(days=self._events_days),
        )
        report.pruned = pruned.hourly + pruned.daily + pruned.runs + pruned.launches
        self._pruned_at = now
