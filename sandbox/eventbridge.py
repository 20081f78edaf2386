"""EventBridge mode: every published notification is POSTed as an EventBridge event.

This stands in for an EventBridge rule with an API destination pointing at
``eventbridge_url`` (genesys-api.md §8). Deliveries are asynchronous and unordered (a few
workers), go through the ``deliveries`` faults, and are retried with exponential backoff
on non-2xx answers and connection errors, as EventBridge itself retries.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from sandbox.background import Background
from sandbox.delivery import Courier, Outbound
from sandbox.messages import eventbridge_envelope
from sandbox.stats import Stats
from sandbox.timestamps import utc_now

_WORKERS = 4


class EventBridgePublisher:
    """A queue of envelopes and the workers that deliver them."""

    def __init__(
        self,
        url: str,
        courier: Courier,
        stats: Stats,
        *,
        org_id: str,
        max_attempts: int,
        retry_seconds: float,
    ) -> None:
        self._url = url
        self._courier = courier
        self._stats = stats
        self._org_id = org_id
        self._max_attempts = max(1, max_attempts)
        self._retry_seconds = retry_seconds
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    def enqueue(self, notification: dict[str, Any]) -> None:
        """Sink for :class:`~sandbox.notifications.NotificationHub`: wrap and queue it."""
        envelope = eventbridge_envelope(notification, org_id=self._org_id, at=utc_now())
        self._queue.put_nowait(envelope)

    def start(self, background: Background) -> None:
        for number in range(_WORKERS):
            background.spawn(self._work(), name=f"sandbox-eventbridge-{number}")

    async def _work(self) -> None:
        while True:
            envelope = await self._queue.get()
            try:
                await self._deliver(envelope)
            finally:
                self._queue.task_done()

    async def _deliver(self, envelope: dict[str, Any]) -> None:
        outbound = Outbound(
            method="POST",
            url=self._url,
            headers={"Content-Type": "application/json"},
            body=orjson.dumps(envelope),
            timeout=10.0,
        )
        for attempt in range(self._max_attempts):
            if (await self._courier.deliver(outbound, stream="eventbridge")).ok:
                return
            if attempt + 1 < self._max_attempts:
                self._stats.incr("eventbridge.redeliveries")
                await asyncio.sleep(self._retry_seconds * 2**attempt)
        self._stats.incr("eventbridge.dropped")

    async def drain(self) -> None:
        """Wait until every queued envelope has been handled (tests use it)."""
        await self._queue.join()
