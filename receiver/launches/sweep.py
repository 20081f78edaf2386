"""Finding stuck launches and ending them (design.md §5).

A sweep claims the launches whose due time has passed (deadline, idle limit, or a
pending confirmation) and, for each:

1. polls ``GET /api/v2/flows/executions/{id}``: a terminal status is recorded as the
   launch's outcome (the callbacks were missed) and nothing is terminated;
2. otherwise, if the launch has a conversation, disconnects it
   (``POST /api/v2/conversations/{id}/disconnect``) and confirms the end on a later pass
   by reading ``endTime``; a conversation that is gone counts as ended;
3. a workflow without a conversation cannot be stopped through the API: it is marked
   timed out and the flow is answered ``"command": "stop"`` at its next callback.

Platform errors never stop a sweep: the launch is retried on later sweeps with backoff,
and after ``max_attempts`` it shows ``termination_failed``. Every decision is recorded in
the launch's history as a ``flowtrack`` event (receiver.launches.own_events).

The sweep is a scheduled job (receiver.jobs); a termination asked for through the API
takes the same steps for one launch at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import RowMapping

from receiver.errors import Conflict, NotFound
from receiver.genesys import GenesysClient
from receiver.genesys.errors import GenesysError, GenesysNotFound
from receiver.genesys.execution import ExecutionStatus, FlowExecution
from receiver.jobs.job import Job
from receiver.launches.own_events import detected_code, status_events, sweep_event, why_ended
from receiver.launches.stops import StopList
from receiver.launches.tracker import LaunchTracker
from receiver.settings import Settings
from storage.errors import StorageError
from storage.launches import LaunchStore
from storage.sweeps import SweepStore
from storage.vocabulary import COMPLETE, ERROR, TERMINAL_STATES, TERMINATED, TIMED_OUT
from storage.writer import EventWriter

log = logging.getLogger("flowtrack.sweep")

NO_CONVERSATION = "no conversation to disconnect: the flow is answered 'stop' at its next callback"


class UnknownLaunch(NotFound):
    """No launch has this id."""

    code = "launch_not_found"


class TerminationRefused(Conflict):
    """Another flowtrack process is acting on this launch right now."""

    code = "termination_in_progress"


@dataclass(frozen=True)
class SweepPolicy:
    """How the sweep claims, confirms and retries (from settings)."""

    batch_size: int = 100
    claim_seconds: int = 120
    confirm_seconds: float = 2.0
    max_attempts: int = 5
    backoff_seconds: float = 5.0
    backoff_max_seconds: float = 300.0
    concurrency: int = 10

    @classmethod
    def from_settings(cls, settings: Settings) -> SweepPolicy:
        """The policy ``FLOWTRACK_SWEEP_*`` and ``FLOWTRACK_TERMINATION_*`` set."""
        return cls(
            batch_size=settings.sweep_batch_size,
            claim_seconds=settings.sweep_claim_seconds,
            confirm_seconds=settings.sweep_confirm_seconds,
            max_attempts=settings.termination_max_attempts,
        )


@dataclass
class SweepReport:
    """What one sweep did (logged, and returned to tests)."""

    claimed: int = 0
    reconciled: int = 0
    disconnects: int = 0
    confirmed: int = 0
    stopped: int = 0
    failures: int = 0
    gave_up: int = 0

    def add(self, other: SweepReport) -> None:
        """Add ``other``'s counts to these."""
        for name, value in other.__dict__.items():
            setattr(self, name, getattr(self, name) + value)


class Sweeper(Job[SweepReport]):
    """Runs sweeps (the scheduled job) and on-demand terminations."""

    name = "sweep"

    def __init__(
        self,
        launches: LaunchStore,
        sweeps: SweepStore,
        writer: EventWriter,
        tracker: LaunchTracker,
        stops: StopList,
        genesys: GenesysClient | None,
        policy: SweepPolicy,
    ) -> None:
        super().__init__(SweepReport)
        self._launches = launches
        self._sweeps = sweeps
        self._writer = writer
        self._tracker = tracker
        self._stops = stops
        self._genesys = genesys
        self._policy = policy
        #: Everything sweeps and terminations did since start (read by the metrics).
        self.totals = SweepReport()
        # The reason given with a termination asked for through the API, while it runs.
        self._reasons: dict[str, str | None] = {}
        # Unique per process, readable in the database: which replica holds a claim.
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"

    async def _run(self, report: SweepReport, now: datetime) -> None:
        """Claim the due launches and act on each (the scheduled job)."""
        try:
            claimed = await self._sweeps.claim_due(
                now=now,
                owner=self.owner,
                lease_seconds=self._policy.claim_seconds,
                limit=self._policy.batch_size,
            )
        except StorageError as exc:
            log.warning(str(exc), extra={"action": "sweep.claim_failed"})
            return
        report.claimed = len(claimed)
        self.totals.claimed += len(claimed)
        gate = asyncio.Semaphore(self._policy.concurrency)

        async def one(launch: RowMapping) -> None:
            async with gate:
                await self._handle(launch, report, requested=False)

        await asyncio.gather(*(one(launch) for launch in claimed))
        if claimed:
            log.info("sweep done", extra={"action": "sweep.done", **report.__dict__})

    async def terminate(self, launch_id: str, reason: str | None = None) -> None:
        """End one launch now, the way the sweep would (idempotent); ``reason`` is kept."""
        row = await self._launches.get(launch_id)
        if row is None:
            raise UnknownLaunch(f"no launch {launch_id!r}")
        if row["state"] in TERMINAL_STATES or row["termination_reason"] is not None:
            return  # already ended, or already being ended
        claimed = await self._sweeps.claim_one(
            launch_id,
            now=datetime.now(UTC),
            owner=self.owner,
            lease_seconds=self._policy.claim_seconds,
        )
        if claimed is None:
            raise TerminationRefused(
                "another flowtrack process is acting on this launch right now; retry shortly"
            )
        self._reasons[launch_id] = reason
        try:
            await self._handle(claimed, SweepReport(), requested=True)
        finally:
            self._reasons.pop(launch_id, None)

    # -- one launch ------------------------------------------------------------------

    async def _handle(self, launch: RowMapping, report: SweepReport, *, requested: bool) -> None:
        # This launch's own counts, added to the run's report and the totals at the end.
        own = SweepReport()
        try:
            await self._handle_one(launch, own, requested=requested)
        finally:
            report.add(own)
            self.totals.add(own)

    async def _handle_one(
        self, launch: RowMapping, report: SweepReport, *, requested: bool
    ) -> None:
        try:
            await self._step(launch, report, requested=requested)
        except GenesysError as exc:
            report.failures += 1
            await self._failed(launch, exc, report)
        except StorageError as exc:
            # The claim expires by itself; the next sweep picks the launch up again.
            log.warning(
                str(exc), extra={"action": "sweep.storage_failed", "launch_id": launch["id"]}
            )

    async def _step(self, launch: RowMapping, report: SweepReport, *, requested: bool) -> None:
        now = datetime.now(UTC)
        if launch["state"] in TERMINAL_STATES:
            await self._release(launch, due_at=None)
            return
        outcome = launch["termination_reason"] or (TERMINATED if requested else TIMED_OUT)
        execution = await self._poll(launch)
        if execution is not None and execution.status.is_terminal:
            if launch["termination_reason"] and execution.status is ExecutionStatus.TERMINATED:
                # Our own disconnect ended it: that is the confirmation, not a new outcome.
                evidence = f"execution {execution.id} is TERMINATED"
                await self._confirm(
                    launch, outcome, report, now, execution.conversation_id, evidence
                )
                return
            await self._record_status(launch, execution, now)
            report.reconciled += 1
            await self._release(launch, due_at=None)
            return
        conversation = launch["conversation_id"] or (execution and execution.conversation_id)
        if conversation and launch["conversation_id"] is None:
            await self._launches.set_conversation(launch["id"], conversation, now)
        if launch["termination_reason"] is None:
            await self._record(
                launch,
                ERROR,
                "timeout",
                now,
                error_code=detected_code(outcome),
                message=why_ended(launch, outcome, now, self._reasons.get(launch["id"])),
                conversation=conversation,
            )
        if conversation and self._genesys is not None:
            await self._end_conversation(launch, conversation, outcome, report, now)
            return
        # A workflow without a conversation: nothing to call; it is told to stop.
        await self._record(
            launch,
            COMPLETE,
            "ended",
            now,
            outcome=outcome,
            conversation=None,
            message=NO_CONVERSATION,
        )
        self._stops.add(launch["id"], launch["flow_execution_id"], None)
        report.stopped += 1
        await self._release(launch, due_at=None, stop_requested_at=now, termination_reason=outcome)

    async def _end_conversation(
        self,
        launch: RowMapping,
        conversation: str,
        outcome: str,
        report: SweepReport,
        now: datetime,
    ) -> None:
        assert self._genesys is not None
        if launch["disconnect_requested_at"] is not None:
            try:
                ended = (await self._genesys.get_conversation(conversation)).ended
            except GenesysNotFound:
                ended = True  # already gone counts as ended
            if ended:
                evidence = f"conversation {conversation} has ended"
                await self._confirm(launch, outcome, report, now, conversation, evidence)
                return
            if launch["termination_attempts"] + 1 >= self._policy.max_attempts:
                raise _StillConnected(conversation)
        attempt = launch["termination_attempts"] + 1
        # Gone already is fine: the confirmation pass will see it ended.
        with contextlib.suppress(GenesysNotFound):
            await self._genesys.disconnect_conversation(conversation)
        await self._record(
            launch,
            ERROR,
            f"disconnect:{attempt}",
            now,
            error_code="disconnect_requested",
            conversation=conversation,
            message=f"disconnect of conversation {conversation} accepted (attempt {attempt})",
        )
        report.disconnects += 1
        await self._release(
            launch,
            due_at=now + timedelta(seconds=self._policy.confirm_seconds),
            disconnect_requested_at=launch["disconnect_requested_at"] or now,
            termination_attempts=attempt,
            termination_reason=outcome,
        )

    async def _confirm(
        self,
        launch: RowMapping,
        outcome: str,
        report: SweepReport,
        now: datetime,
        conversation: str | None,
        evidence: str,
    ) -> None:
        await self._record(
            launch,
            COMPLETE,
            "ended",
            now,
            outcome=outcome,
            conversation=conversation,
            message=f"disconnect confirmed: {evidence}",
        )
        self._stops.add(launch["id"], launch["flow_execution_id"], conversation)
        report.confirmed += 1
        await self._release(launch, due_at=None, stop_requested_at=now)

    async def _failed(self, launch: RowMapping, exc: GenesysError, report: SweepReport) -> None:
        now = datetime.now(UTC)
        attempts = launch["termination_attempts"] + 1
        error = f"{exc.message} (status {exc.http_status}, code {exc.genesys_code})"
        if isinstance(exc, _StillConnected):
            error = exc.message
        log.warning(
            error,
            extra={
                "action": "sweep.attempt_failed",
                "launch_id": launch["id"],
                "attempt": attempts,
            },
        )
        if attempts >= self._policy.max_attempts:
            await self._record(
                launch,
                ERROR,
                "termination_failed",
                now,
                error_code="termination_failed",
                message=f"gave up after {attempts} attempts: {error}",
                conversation=launch["conversation_id"],
            )
            await self._sweeps.give_up(launch["id"], self.owner, error=error, now=now)
            report.gave_up += 1
            return
        delay = min(
            self._policy.backoff_seconds * 2 ** (attempts - 1), self._policy.backoff_max_seconds
        )
        await self._release(
            launch,
            due_at=now + timedelta(seconds=delay),
            termination_attempts=attempts,
            last_error=error,
            termination_reason=launch["termination_reason"] or TIMED_OUT,
        )

    async def _poll(self, launch: RowMapping) -> FlowExecution | None:
        if launch["flow_execution_id"] is None or self._genesys is None:
            return None
        try:
            return await self._genesys.get_execution(launch["flow_execution_id"])
        except GenesysNotFound:
            return None  # details expire after some days: decide without them

    async def _record_status(
        self, launch: RowMapping, execution: FlowExecution, now: datetime
    ) -> None:
        """The platform already ended the flow: record that (own_events.status_events)."""
        await self._writer.write(status_events(launch, execution, now))

    async def _record(
        self, launch: RowMapping, kind: str, what: str, now: datetime, **fields: Any
    ) -> None:
        await self._writer.write([sweep_event(launch, kind, what, now, **fields)])

    async def _release(self, launch: RowMapping, **values: Any) -> None:
        values.setdefault("updated_at", datetime.now(UTC))
        await self._sweeps.release(launch["id"], self.owner, **values)
        self._tracker.notice_launch(launch["id"])


class _StillConnected(GenesysError):
    """The conversation is still up after the last disconnect attempt."""

    def __init__(self, conversation: str) -> None:
        super().__init__(f"conversation {conversation} is still connected after disconnecting")
