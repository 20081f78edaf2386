"""The channel holder: one process among all replicas holds the notification channels.

Every process with ``FLOWTRACK_NOTIFICATIONS=1`` runs a :class:`NotificationBridge`;
each tries to take the ``notification-bridge`` lease (``storage.lease``) every third of
its length. The one that has it renews it at that pace and runs the channels; if it
fails to renew (its database is gone, it was stopped, or it died and another took the
lease over), it drops its channels at once. A new holder records the time since the
previous holder's last sign of life as a gap.

While holding, every refresh interval it asks the database what to follow (flows
launched recently, conversations of running launches, but not those of flows that
report through data actions; ``storage.tracking_state``),
packs the topics into channels (``receiver.bridge.topics``), and publishes its status
with the lease for ``GET /api/v1/tracking``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from receiver.bridge.channel import ChannelRunner, ChannelState
from receiver.bridge.gaps import ChannelGaps
from receiver.bridge.sink import MessageSink
from receiver.bridge.status import BridgeStatus
from receiver.bridge.topics import pack, wanted
from receiver.genesys.notifications import NotificationsApi
from receiver.jobs.task import BackgroundTask
from receiver.settings.tracking import TrackingConfig
from storage.errors import StorageError
from storage.gaps import NO_PULL, PENDING, GapStore
from storage.lease import LeaseState, LeaseStore
from storage.records import EventRecord
from storage.tracking_state import TrackingStateStore
from storage.vocabulary import DATA_ACTION

log = logging.getLogger("flowtrack.bridge")

LEASE_NAME = "notification-bridge"
#: A flow that sent a data action callback this recently reports its own steps.
REPORTING_WINDOW = timedelta(hours=1)


class LeaseLost(Exception):
    """The lease could not be renewed: another process may hold the channels now."""


def holder_id() -> str:
    """This process, as named in the lease: host, pid and a random part."""
    return f"{socket.gethostname()[:64]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class NotificationBridge(BackgroundTask):
    """Takes the lease when it is free and, while holding it, runs the channels."""

    task_name = "flowtrack-bridge"

    def __init__(
        self,
        config: TrackingConfig,
        api: NotificationsApi,
        sink: MessageSink,
        *,
        leases: LeaseStore,
        gaps: GapStore,
        tracking: TrackingStateStore,
        holder: str | None = None,
    ) -> None:
        self._config = config
        self._api = api
        self.sink = sink
        self._leases = leases
        self._gaps = gaps
        self._tracking = tracking
        self.holder = holder or holder_id()
        self.holding = False
        self._runners: list[ChannelRunner] = []
        self._left_out: tuple[str, ...] = ()
        self._flows: set[str] = set()
        self._wake = asyncio.Event()
        self._recorders: list[ChannelGaps] = []
        # Flows and conversations this process saw report through data actions (the
        # database says the same of other replicas' callbacks at each refresh).
        self._reporting: set[str] = set()
        self._reporting_conversations: set[str] = set()
        self._reporting_since = datetime.now(UTC)
        # With the history pull on, a gap's window is pulled; else it stays a gap.
        self._backfill = PENDING if config.history_pull else NO_PULL

    def notice(self, rows: Sequence[EventRecord]) -> None:
        """Events were stored (the writer's hook): a new flow is followed at once, and a
        flow (or conversation) that reports through data actions is dropped at once."""
        if not self.holding:
            return
        for row in rows:
            if row.source == DATA_ACTION:
                if row.flow_id is not None and row.flow_id not in self._reporting:
                    self._reporting.add(row.flow_id)
                    self._wake.set()
                if row.conversation_id is not None:
                    self._reporting_conversations.add(row.conversation_id)
            elif row.flow_id is not None and row.flow_id not in self._flows:
                self._wake.set()

    async def _run(self) -> None:
        every = self._config.lease_seconds / 3
        while True:
            try:
                previous = await self._leases.state(LEASE_NAME)
                if await self._leases.take(
                    LEASE_NAME, self.holder, datetime.now(UTC), self._config.lease_seconds
                ):
                    await self._hold(previous)
            except StorageError as exc:
                log.warning(
                    f"notification lease unavailable: {exc}",
                    extra={"action": "bridge.lease_failed"},
                )
            await asyncio.sleep(every)

    async def _hold(self, previous: LeaseState | None) -> None:
        log.info(
            "holding the notification channels",
            extra={"action": "bridge.holding", "holder": self.holder},
        )
        self.holding = True
        first_gaps = ChannelGaps(self._gaps, self.holder, backfill=self._backfill)
        self._recorders.append(first_gaps)
        if previous is not None and previous.holder != self.holder:
            # Nothing listened between the previous holder's last sign of life and now.
            since = previous.status_at or previous.acquired_at
            await first_gaps.lost(since, "holder_changed")
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._keep_lease())
                group.create_task(self._refresh(group, first_gaps))
        except* LeaseLost:
            log.warning(
                "lost the notification lease: channels dropped",
                extra={"action": "bridge.lease_lost", "holder": self.holder},
            )
        finally:
            self.holding = False
            self._runners = []

    async def _keep_lease(self) -> None:
        every = self._config.lease_seconds / 3
        while True:
            await asyncio.sleep(every)
            try:
                renewed = await self._leases.take(
                    LEASE_NAME, self.holder, datetime.now(UTC), self._config.lease_seconds
                )
            except StorageError as exc:
                raise LeaseLost(str(exc)) from None
            if not renewed:
                raise LeaseLost("another process holds the lease")

    async def _refresh(self, group: asyncio.TaskGroup, first_gaps: ChannelGaps) -> None:
        config = self._config
        while True:
            try:
                await self._follow(group, first_gaps)
            except StorageError as exc:
                log.warning(
                    f"bridge refresh failed: {exc}", extra={"action": "bridge.refresh_failed"}
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), config.refresh_seconds)
            self._wake.clear()

    async def _follow(self, group: asyncio.TaskGroup, first_gaps: ChannelGaps) -> None:
        config = self._config
        now = datetime.now(UTC)
        since = now - timedelta(days=config.recent_days)
        tracked = await self._tracking.tracked(since, now - REPORTING_WINDOW)
        tracked_flows = set(tracked.flow_ids) - self._reporting
        self._flows = set(config.flows) | tracked_flows
        tracked_conversations = [
            c for c in tracked.conversation_ids if c not in self._reporting_conversations
        ]
        topics = wanted((*config.flows, *sorted(tracked_flows)), tracked_conversations)
        packing = pack(
            topics,
            [runner.topics for runner in self._runners],
            per_channel=config.topics_per_channel,
            max_channels=config.max_channels,
        )
        for index, slot in enumerate(packing.slots):
            if index == len(self._runners):
                gaps = first_gaps
                if index > 0:
                    gaps = ChannelGaps(self._gaps, self.holder, backfill=self._backfill)
                    self._recorders.append(gaps)
                runner = ChannelRunner(
                    self._api,
                    self.sink,
                    gaps,
                    heartbeat_seconds=config.heartbeat_seconds,
                    refresh_seconds=min(config.refresh_seconds, 1.0),
                )
                self._runners.append(runner)
                group.create_task(runner.run())
            self._runners[index].want(slot)
        for runner in self._runners[len(packing.slots) :]:
            runner.want(())
        if not packing.slots:
            # Nothing to follow: nothing can be missed (the takeover gap ends here).
            await first_gaps.restored(now)
        if now - self._reporting_since > REPORTING_WINDOW:
            # What the database says at each refresh covers older callbacks.
            self._reporting_since = now
            self._reporting.clear()
            self._reporting_conversations.clear()
        if packing.left_out and packing.left_out != self._left_out:
            log.warning(
                f"{len(packing.left_out)} topics left out: {config.max_channels} channels of "
                f"{config.topics_per_channel} topics are full; the history pull must fill in",
                extra={"action": "bridge.budget_exceeded", "left_out": len(packing.left_out)},
            )
        self._left_out = packing.left_out
        await self._leases.publish(
            LEASE_NAME, self.holder, self.status().to_json(), datetime.now(UTC)
        )

    @property
    def left_out(self) -> tuple[str, ...]:
        """Topics no channel had room for."""
        return self._left_out

    @property
    def gaps_recorded(self) -> int:
        """Gaps this process recorded since start."""
        return sum(recorder.recorded for recorder in self._recorders)

    def channel_states(self) -> list[ChannelState]:
        """Each channel's state now."""
        return [runner.state for runner in self._runners]

    def status(self) -> BridgeStatus:
        """This holder's channels and topics now."""
        counts = self.sink.counts
        return BridgeStatus.of(
            [runner.state for runner in self._runners],
            self._left_out,
            {
                "messages": counts.messages,
                "storedEvents": counts.stored_events,
                "duplicateEvents": counts.duplicate_events,
                "deadLetters": counts.dead_letters,
            },
        )

    async def stop(self) -> None:
        """Stop, and give the lease up so another replica need not wait for it to expire."""
        held = self.holding
        await super().stop()
        if held:
            with contextlib.suppress(StorageError):
                await self._leases.release(LEASE_NAME, self.holder)
