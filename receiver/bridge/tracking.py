"""The tracking resources of one app: the notification bridge and the history pull
(each when enabled) and what ``GET /api/v1/tracking`` reads (the status each published
with its lease, the gaps).

The lifespan builds one :class:`Tracking` before the writer (whose commits it hears
about, :meth:`Tracking.listening`) and starts it once the writer runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from receiver.bridge.bridge import LEASE_NAME, NotificationBridge, holder_id
from receiver.bridge.metrics import TrackingCollector
from receiver.bridge.sink import MessageSink
from receiver.genesys import GenesysClient
from receiver.history_pull.puller import LEASE_NAME as PULL_LEASE
from receiver.history_pull.puller import HistoryPuller
from receiver.settings.tracking import TrackingConfig
from storage.gaps import GapStore
from storage.history_pulls import HistoryPullStore
from storage.lease import LeaseState, LeaseStore
from storage.records import EventRecord
from storage.tracking_state import TrackingStateStore
from storage.writer import EventWriter

log = logging.getLogger("flowtrack.bridge")

Listener = Callable[[list[EventRecord]], None]


class Tracking:
    """The notification bridge of this process (None when off) and its stores."""

    def __init__(
        self, config: TrackingConfig, engine: Engine, registry: CollectorRegistry | None = None
    ) -> None:
        """``registry``: where the tracking metrics are registered (the app's)."""
        self.config = config
        self.leases = LeaseStore(engine)
        self.gaps = GapStore(engine)
        self.pulls = HistoryPullStore(engine)
        self._engine = engine
        self.bridge: NotificationBridge | None = None
        self.puller: HistoryPuller | None = None
        if registry is not None:
            registry.register(TrackingCollector(self))

    def listening(self, listener: Listener) -> Listener:
        """``listener``, and the bridge's too when it runs (a new flow is followed at once)."""
        if not self.config.notifications:
            return listener

        def both(rows: list[EventRecord]) -> None:
            listener(rows)
            if self.bridge is not None:
                self.bridge.notice(rows)

        return both

    def start(self, writer: EventWriter, genesys: GenesysClient | None) -> None:
        """Start the bridge and the pull if enabled (they need the Genesys client)."""
        config = self.config
        if not (config.notifications or config.history_pull):
            return
        if genesys is None:
            log.warning(
                "FLOWTRACK_NOTIFICATIONS and FLOWTRACK_HISTORY_PULL need the "
                "FLOWTRACK_GENESYS_* client settings; tracking without data actions is off",
                extra={"action": "bridge.not_configured"},
            )
            return
        holder = holder_id()
        if config.notifications:
            self.bridge = NotificationBridge(
                config,
                genesys.notifications,
                MessageSink(writer, download=genesys.instances.download),
                leases=self.leases,
                gaps=self.gaps,
                tracking=TrackingStateStore(self._engine),
                holder=holder,
            )
            self.bridge.start()
        if config.history_pull:
            self.puller = HistoryPuller(
                config,
                genesys.instances,
                writer,
                store=self.pulls,
                leases=self.leases,
                holder=holder,
            )
            self.puller.start()

    async def stop(self) -> None:
        """Stop the bridge (giving its lease up) and wait for its messages to be stored."""
        if self.puller is not None:
            await self.puller.stop()
        if self.bridge is not None:
            await self.bridge.stop()
            await self.bridge.sink.drain()

    async def lease(self) -> LeaseState | None:
        """The channel lease as stored: who holds it and the status it published."""
        return await self.leases.state(LEASE_NAME)

    async def pull_lease(self) -> LeaseState | None:
        """The history pull's lease: who ran the last round and what it found."""
        return await self.leases.state(PULL_LEASE)
