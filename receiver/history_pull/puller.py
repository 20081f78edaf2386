"""The history pull: a round every interval, run by one process at a time (a lease).

A round: mark launches past the 10-day retention ``expired``; take the launches that
need their history (storage.history_pulls); per flow, query the runs started in their
time window (receiver.history_pull.search: a window whose answer reaches the 200 cap
is halved, the query has no paging) and match them to the launches
(receiver.history_pull.matching); start one download job for the matched runs, poll
it, download each file (a pre-signed link, no Authorization) and store its events
through the writer (source ``history``, deduplicated against what the push or a data
action already stored). Then mark the gaps whose launches are all settled ``pulled``.

Every Platform API call counts against ``pull_calls_per_minute`` (a bucket refilled at
that rate; the rest of the client's rate limit stays for launches and the sweep); a
round that empties it stops, and the next one continues. At its first round it reads
the org's execution-data setting and says clearly when it is off; it never changes it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from receiver.genesys import GenesysError
from receiver.genesys.instances import DataJob, FlowInstance, FlowInstancesApi
from receiver.history_pull.matching import SKEW, match
from receiver.history_pull.record import UnreadableRecord, read_record
from receiver.history_pull.search import find_runs
from receiver.jobs.task import BackgroundTask
from receiver.settings.tracking import TrackingConfig
from storage.errors import StorageError
from storage.history_pulls import AMBIGUOUS, PENDING, PULLED, Candidate, HistoryPullStore
from storage.lease import LeaseStore
from storage.writer import EventWriter

log = logging.getLogger("flowtrack.history_pull")

LEASE_NAME = "history-pull"
#: Genesys keeps execution data 10 days (help.mypurecloud.com/?p=311889).
RETENTION = timedelta(days=10)
_BATCH = 100
_JOB_IDS = 50
_MAX_POLLS = 120
_RETRY_MAX = timedelta(hours=6)


class OutOfCalls(Exception):
    """This round has made all the Platform API calls it may."""


@dataclass
class PullStatus:
    """What ``GET /api/v1/tracking`` shows of the pull (published with the lease)."""

    execution_data: bool | None = None
    last_round_at: datetime | None = None
    last_error: str | None = None
    stored_events: int = 0
    duplicate_events: int = 0
    by_state: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> str:
        return orjson.dumps(self.__dict__).decode()

    @classmethod
    def from_json(cls, text: str) -> PullStatus:
        data: dict[str, Any] = orjson.loads(text)
        at = data.get("last_round_at")
        data["last_round_at"] = datetime.fromisoformat(at) if at else None
        return cls(**data)


class HistoryPuller(BackgroundTask):
    """Downloads the execution history of ended launches, a round every interval."""

    task_name = "flowtrack-history-pull"

    def __init__(
        self,
        config: TrackingConfig,
        api: FlowInstancesApi,
        writer: EventWriter,
        *,
        store: HistoryPullStore,
        leases: LeaseStore,
        holder: str,
    ) -> None:
        self._config = config
        self._api = api
        self._writer = writer
        self._store = store
        self._leases = leases
        self._holder = holder
        self._calls = float(config.pull_calls_per_minute)
        self._counted_at = time.monotonic()
        self.status = PullStatus()

    async def _run(self) -> None:
        interval = self._config.pull_interval_seconds
        while True:
            try:
                now = datetime.now(UTC)
                if await self._leases.take(LEASE_NAME, self._holder, now, interval * 3):
                    await self.run_round()
                    await self._leases.publish(
                        LEASE_NAME, self._holder, self.status.to_json(), datetime.now(UTC)
                    )
            except StorageError as exc:
                log.warning(
                    f"history pull round failed: {exc}", extra={"action": "history_pull.failed"}
                )
            await asyncio.sleep(interval)

    async def run_round(self) -> None:
        """One round (see the module's description)."""
        status = self.status
        try:
            if status.execution_data is None:
                await self._check_setting()
            now = datetime.now(UTC)
            for launch_id in await self._store.expire(now, RETENTION, _BATCH):
                log.info(
                    f"launch {launch_id} ended over 10 days ago without history: given up",
                    extra={"action": "history_pull.expired", "launch_id": launch_id},
                )
            wanted = await self._store.candidates(now, RETENTION, _BATCH)
            by_flow: dict[str, list[Candidate]] = defaultdict(list)
            for launch in wanted:
                by_flow[launch.flow_id].append(launch)
            for flow_id, launches in by_flow.items():
                await self._pull_flow(flow_id, launches)
            status.last_error = None
        except OutOfCalls:
            log.info(
                "history pull: call budget of this round spent; the next round continues",
                extra={"action": "history_pull.budget_spent"},
            )
        except GenesysError as exc:
            status.last_error = str(exc)
            log.warning(f"history pull: {exc}", extra={"action": "history_pull.genesys_failed"})
        settled = await self._store.settle_gaps()
        if settled:
            log.info(f"{settled} gaps backfilled", extra={"action": "history_pull.gaps_settled"})
        status.last_round_at = datetime.now(UTC)
        status.by_state = await self._store.counts()

    async def _check_setting(self) -> None:
        self._spend()
        enabled = await self._api.execution_data_enabled()
        self.status.execution_data = enabled
        if not enabled:
            log.warning(
                "execution data is OFF in this Genesys org: there is no history to download. "
                "An admin enables it (Admin > Architect > Flow execution history, or PATCH "
                "/api/v2/flows/instances/settings/executiondata) and republishes the flows; "
                "flowtrack never changes it",
                extra={"action": "history_pull.execution_data_off"},
            )
        else:
            log.info("execution data is on", extra={"action": "history_pull.execution_data_on"})

    def _spend(self) -> None:
        """Take one call from the budget: a bucket of ``pull_calls_per_minute`` calls,
        refilled at that rate, so a round may use what quiet rounds left."""
        now = time.monotonic()
        per_minute = self._config.pull_calls_per_minute
        self._calls = min(per_minute, self._calls + (now - self._counted_at) * per_minute / 60)
        self._counted_at = now
        if self._calls < 1:
            raise OutOfCalls()
        self._calls -= 1

    async def _pull_flow(self, flow_id: str, launches: list[Candidate]) -> None:
        since = min(launch.created_at for launch in launches) - SKEW
        until = max(launch.ended_at for launch in launches) + SKEW
        instances = await find_runs(self._api, flow_id, since, until, self._spend)
        matches = match(launches, instances)
        now = datetime.now(UTC)
        for launch_id in matches.ambiguous:
            log.warning(
                f"launch {launch_id}: several runs of flow {flow_id} could be it; none taken",
                extra={"action": "history_pull.ambiguous", "launch_id": launch_id},
            )
            await self._store.mark(launch_id, AMBIGUOUS, now, detail="several runs match")
        attempts = {launch.launch_id: launch.attempts for launch in launches}
        for launch_id in matches.missing:
            await self._later(launch_id, attempts[launch_id], "no run found yet")
        found = list(matches.found.items())
        for start in range(0, len(found), _JOB_IDS):
            await self._download(found[start : start + _JOB_IDS], attempts)

    async def _download(
        self, found: list[tuple[str, FlowInstance]], attempts: dict[str, int]
    ) -> None:
        launch_of = {instance.id: launch_id for launch_id, instance in found}
        self._spend()
        job = await self._api.start_job([instance.id for _, instance in found])
        job = await self._wait(job)
        done: set[str] = set()
        for entry in job.downloads:
            launch_id = launch_of.get(entry.id)
            if launch_id is None:
                continue
            done.add(launch_id)
            if entry.failed or entry.download_uri is None:
                await self._later(
                    launch_id, attempts[launch_id], f"download failed ({entry.status_code})"
                )
                continue
            await self._store_record(launch_id, entry.id, entry.download_uri, attempts[launch_id])
        for launch_id in set(launch_of.values()) - done:
            await self._later(launch_id, attempts[launch_id], f"job {job.id} ended {job.state}")

    async def _wait(self, job: DataJob) -> DataJob:
        for _ in range(_MAX_POLLS):
            if job.done:
                return job
            await asyncio.sleep(self._config.pull_poll_seconds)
            self._spend()
            job = await self._api.job(job.id)
        return job

    async def _store_record(self, launch_id: str, instance_id: str, uri: str, tries: int) -> None:
        try:
            document = await self._api.download(uri)
            events = read_record(
                document,
                instance_id=instance_id,
                received_at=datetime.now(UTC),
                launch_id=launch_id,
            )
        except (GenesysError, UnreadableRecord) as exc:
            await self._later(launch_id, tries, f"download of {instance_id}: {exc}")
            return
        result = await self._writer.write(events)
        self.status.stored_events += result.accepted
        self.status.duplicate_events += result.duplicates
        await self._store.mark(launch_id, PULLED, datetime.now(UTC), instance_id=instance_id)
        log.info(
            f"history of launch {launch_id} stored: {result.accepted} new events, "
            f"{result.duplicates} already stored",
            extra={"action": "history_pull.pulled", "launch_id": launch_id},
        )

    async def _later(self, launch_id: str, attempts: int, why: str) -> None:
        wait = timedelta(seconds=self._config.pull_interval_seconds) * (2 ** min(attempts, 10))
        now = datetime.now(UTC)
        await self._store.mark(
            launch_id, PENDING, now, next_at=now + min(wait, _RETRY_MAX), detail=why
        )
