"""Launching flows: ``/api/v1/launches``.

flowtrack records a launch before it calls ``POST /api/v2/flows/executions`` (with the
launch id added to ``inputData`` so the flow can echo it in callbacks), then stores the
execution id, records a ``start`` event, and learns the conversation id in the
background. An ``Idempotency-Key`` makes a retried request return the original launch.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from receiver.errors import Conflict, FlowtrackError, InvalidRequest, NotFound, Unavailable
from receiver.fingerprints import request_fingerprint
from receiver.genesys import GenesysClient
from receiver.genesys.errors import (
    GenesysError,
    GenesysOutcomeUnknown,
)
from receiver.ingest.dedupe import dedupe_key
from receiver.launches.ids import new_launch_id
from receiver.launches.tracker import LaunchTracker
from storage.launches import LaunchStore, NewLaunch
from storage.records import EventRecord
from storage.vocabulary import FLOWTRACK, START
from storage.writer import EventWriter

log = logging.getLogger("flowtrack.launches")


class InvalidLaunch(InvalidRequest):
    """The launch request is not a JSON object, or a field is missing, unknown or wrong."""

    code = "invalid_launch"


class LaunchNotFound(NotFound):
    """No launch has this id."""

    code = "launch_not_found"


class IdempotencyKeyReused(Conflict):
    """The ``Idempotency-Key`` was used before with a different request."""

    code = "idempotency_key_reused"

    def __init__(self, message: str, *, launch_id: str) -> None:
        super().__init__(message)
        self.launch_id = launch_id


class GenesysNotConfigured(Unavailable):
    """flowtrack has no Genesys client credentials, so it cannot launch."""

    code = "genesys_not_configured"


class LaunchRefused(FlowtrackError):
    """The platform refused or could not take the launch.

    ``cause`` is what the Genesys client raised; ``outcome_unknown`` says the platform
    may have started the flow all the same (the launch stays ``pending``); ``launch`` is
    the launch as kept.
    """

    code = "launch_rejected"

    def __init__(self, cause: GenesysError, *, outcome_unknown: bool, launch: LaunchView) -> None:
        super().__init__(cause.message)
        self.cause = cause
        self.outcome_unknown = outcome_unknown
        self.launch = launch
        self.code = "launch_outcome_unknown" if outcome_unknown else cause.code


@dataclass(frozen=True)
class LaunchOrder:
    """What to launch, validated: the flow, its inputs and its timeouts."""

    flow_id: str
    flow_version: str | None = None
    name: str | None = None
    input_data: dict[str, Any] | None = None
    timeout_seconds: int | None = None
    idle_timeout_seconds: int | None = None

    @property
    def fingerprint(self) -> str:
        """A digest of what is asked: the same launch request gives the same one."""
        return request_fingerprint(dataclasses.asdict(self))


@dataclass(frozen=True)
class LaunchView:
    """A launch row with its event counts by kind and its latest event row."""

    row: Any
    event_counts: dict[str, int]
    last_event: Any | None


class LaunchService:
    """Starts flows on the platform and keeps the launch records in step."""

    def __init__(
        self,
        launches: LaunchStore,
        writer: EventWriter,
        tracker: LaunchTracker,
        genesys: GenesysClient | None,
        *,
        launch_id_input_key: str,
        default_timeout_seconds: int,
        flow_timeouts: Mapping[str, int] | None = None,
        idle_timeout_seconds: int | None = None,
    ) -> None:
        self._launches = launches
        self._writer = writer
        self._tracker = tracker
        self._genesys = genesys
        self._input_key = launch_id_input_key
        self._default_timeout = default_timeout_seconds
        self._flow_timeouts = dict(flow_timeouts or {})
        self._idle_timeout = idle_timeout_seconds
        self._background: set[asyncio.Task[None]] = set()

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)

    async def launch(
        self, order: LaunchOrder, idempotency_key: str | None
    ) -> tuple[LaunchView, bool]:
        """Launch a flow; returns the launch and whether this call created it.

        A known ``idempotency_key`` returns the launch it made, unless that launch was
        asked for with another request (:class:`IdempotencyKeyReused`).
        """
        if self._genesys is None:
            raise GenesysNotConfigured(
                "launching needs FLOWTRACK_GENESYS_CLIENT_ID and FLOWTRACK_GENESYS_CLIENT_SECRET"
            )
        new = self._new_launch(order, idempotency_key)
        row, created = await self._launches.insert(new)
        if not created:
            made_by = row["request_fingerprint"]
            # A launch stored before fingerprints were kept answers as it always did.
            if made_by is not None and made_by != new.request_fingerprint:
                raise IdempotencyKeyReused(
                    f"Idempotency-Key {idempotency_key!r} was used for another request "
                    f"(launch {row['id']}); use a new key for a new launch",
                    launch_id=row["id"],
                )
            return await self.describe(row["id"]), False
        input_data = dict(orjson.loads(new.input_data) if new.input_data else {})
        input_data[self._input_key] = new.id
        try:
            launched = await self._genesys.launch_flow(
                new.flow_id,
                flow_version=new.flow_version,
                input_data=input_data,
                name=new.name or f"flowtrack {new.id}",
            )
        except GenesysError as exc:
            await self._refused(new.id, exc)
            raise  # unreachable: _refused raises
        now = datetime.now(UTC)
        await self._launches.mark_launched(new.id, launched.id, now)
        start = EventRecord(
            dedupe_key("launch", new.id),
            START,
            FLOWTRACK,
            now,
            now,
            new.id,
            launched.id,
            None,
            new.flow_id,
            launched.flow_version or new.flow_version,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            orjson.dumps({"launch": launched.raw}).decode(),
        )
        await self._writer.write([start])
        self._tracker.notice_launch(new.id)
        self._spawn(self._learn_conversation(new.id, launched.id))
        log.info(
            "flow launched",
            extra={"action": "launch.started", "launch_id": new.id, "execution_id": launched.id},
        )
        return await self.describe(new.id), True

    async def describe(self, launch_id: str) -> LaunchView:
        """The launch with its event counts and its latest event."""
        # One read: the row and its counts from separate reads could disagree (a
        # node_enter counted while the launch seemed at no node yet).
        summary = await self._launches.summary(launch_id)
        if summary is None:
            raise LaunchNotFound(f"no launch {launch_id!r}")
        return LaunchView(summary.row, summary.event_counts, summary.last_event)

    async def _refused(self, launch_id: str, exc: GenesysError) -> None:
        now = datetime.now(UTC)
        unknown = isinstance(exc, GenesysOutcomeUnknown)
        if unknown:
            # The platform may or may not have started it: keep it pending, say why.
            reason = f"launch outcome unknown: {exc.message}"
            await self._launches.note_reason(launch_id, reason, now)
        else:
            reason = exc.message
            await self._launches.mark_launch_failed(launch_id, exc.genesys_code, reason, now)
        log.warning(
            reason,
            extra={
                "action": "launch.refused",
                "launch_id": launch_id,
                "genesys_status": exc.http_status,
                "genesys_code": exc.genesys_code,
                "correlation_id": exc.correlation_id,
            },
        )
        launch = await self.describe(launch_id)
        raise LaunchRefused(exc, outcome_unknown=unknown, launch=launch) from exc

    async def _learn_conversation(self, launch_id: str, execution_id: str) -> None:
        assert self._genesys is not None
        try:
            execution = await self._genesys.get_execution(execution_id)
        except GenesysError as exc:
            # The sweep polls again later; nothing is lost by giving up here.
            log.info(str(exc), extra={"action": "launch.poll_failed", "launch_id": launch_id})
            return
        if execution.conversation_id:
            now = datetime.now(UTC)
            learned = await self._launches.set_conversation(
                launch_id, execution.conversation_id, now
            )
            if learned:
                self._tracker.notice_launch(launch_id)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _new_launch(self, order: LaunchOrder, idempotency_key: str | None) -> NewLaunch:
        flow_id = order.flow_id
        timeout = order.timeout_seconds
        input_data = order.input_data
        created = datetime.now(UTC)
        # The request's timeout, else the flow's configured one, else the global default.
        seconds = timeout or self._flow_timeouts.get(flow_id) or self._default_timeout
        deadline = created + timedelta(seconds=seconds)
        idle = order.idle_timeout_seconds
        idle = idle if idle is not None else self._idle_timeout
        return NewLaunch(
            id=new_launch_id(),
            flow_id=flow_id,
            flow_version=order.flow_version,
            name=order.name,
            input_data=orjson.dumps(input_data).decode() if input_data is not None else None,
            idempotency_key=idempotency_key,
            timeout_seconds=timeout,
            idle_timeout_seconds=idle,
            created_at=created,
            deadline_at=deadline,
            request_fingerprint=order.fingerprint,
        )
