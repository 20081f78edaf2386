"""The tracking resources of one app: the bridge (when enabled) and what the
``GET /api/v1/tracking`` resource reads (the lease's published status, the gaps).

The lifespan builds one :class:`Tracking` before the writer (whose commits it hears
about, :meth:`Tracking.listening`) and starts it once the writer runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import Engine

from receiver.bridge.bridge import LEASE_NAME, NotificationBridge
from receiver.bridge.sink import MessageSink
from receiver.genesys import GenesysClient
from receiver.settings.tracking import TrackingConfig
from storage.gaps import GapStore
from storage.lease import LeaseState, LeaseStore
from storage.records import EventRecord
from storage.tracking_state import TrackingStateStore
from storage.writer import EventWriter

log = logging.getLogger("flowtrack.bridge")

Listener = Callable[[list[EventRecord]], None]


class Tracking:
    """The notification bridge of this process (None when off) and its stores."""

    def __init__(self, config: TrackingConfig, engine: Engine) -> None:
        self.config = config
        self.leases = LeaseStore(engine)
        self.gaps = GapStore(engine)
        self._engine = engine
        self.bridge: NotificationBridge | None = None

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
        """Start the bridge if enabled (it needs the Genesys client settings)."""
        if not self.config.notifications:
            return
        if genesys is None:
            log.warning(
                "FLOWTRACK_NOTIFICATIONS=1 needs the FLOWTRACK_GENESYS_* client settings; "
                "the notification bridge is off",
                extra={"action": "bridge.not_configured"},
            )
            return
        self.bridge = NotificationBridge(
            self.config,
            genesys.notifications,
            MessageSink(writer),
            leases=self.leases,
            gaps=self.gaps,
            tracking=TrackingStateStore(self._engine),
        )
        self.bridge.start()

    async def stop(self) -> None:
        """Stop the bridge (giving its lease up) and wait for its messages to be stored."""
        if self.bridge is not None:
            await self.bridge.stop()
            await self.bridge.sink.drain()

    async def lease(self) -> LeaseState | None:
        """The channel lease as stored: who holds it and the status it published."""
        return await self.leases.state(LEASE_NAME)
