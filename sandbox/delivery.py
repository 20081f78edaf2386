"""Outbound HTTP deliveries (data-action callbacks, EventBridge posts) with fault injection.

A *stream* groups the deliveries whose order matters (one flow run, or the EventBridge
feed): the ``reorder`` fault holds one request of a stream back and sends it right after
the stream's next delivery, or when the stream is flushed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx

from sandbox.faults import FaultInjector
from sandbox.stats import Stats

_MAX_BACKOFF_MS = 2000


@dataclass(frozen=True)
class Outbound:
    """One HTTP request to send."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    timeout: float


@dataclass(frozen=True)
class Delivered:
    """What came back: ``status`` None means no answer (``error`` says why)."""

    status: int | None
    body: bytes = b""
    error: str | None = None
    timed_out: bool = False
    #: The request was held back by the reorder fault; the caller proceeds as if it passed.
    held: bool = False

    @property
    def ok(self) -> bool:
        return self.held or (self.status is not None and 200 <= self.status < 300)


class Courier:
    """Sends :class:`Outbound` requests through the current ``deliveries`` faults.

    ``kind`` prefixes the stats counters: ``<kind>.sent`` (requests that went on the
    wire, duplicates and late reordered ones included), ``<kind>.delivered`` (requests
    answered 2xx), ``<kind>.failed`` (deliveries that ended without a 2xx),
    ``<kind>.retries`` and one ``<kind>.faults.*`` counter per fault played.
    """

    def __init__(self, kind: str, faults: FaultInjector, stats: Stats) -> None:
        self.kind = kind
        self.client: httpx.AsyncClient | None = None
        self._faults = faults
        self._stats = stats
        self._held: dict[str, Outbound] = {}

    def _count(self, name: str) -> None:
        self._stats.incr(f"{self.kind}.{name}")

    async def deliver(self, outbound: Outbound, stream: str) -> Delivered:
        faults, settings = self._faults, self._faults.settings.deliveries
        reorder = faults.roll("deliveries", settings.reorder)
        delay = faults.roll("deliveries", settings.delay)
        duplicate = faults.roll("deliveries", settings.duplicate)
        if reorder and stream not in self._held:
            self._held[stream] = outbound
            self._count("faults.reordered")
            return Delivered(status=None, held=True)
        if delay:
            self._count("faults.delayed")
            low, high = settings.delay_ms
            await asyncio.sleep(faults.rng("deliveries").uniform(low, high) / 1000)
        result = await self._attempts(outbound)
        if duplicate and result.status is not None:
            self._count("faults.duplicated")
            await self._send(outbound)
        await self.flush(stream)
        if not result.ok:
            self._count("failed")
        return result

    async def flush(self, stream: str) -> None:
        """Send the request the reorder fault held back for ``stream``, if any."""
        held = self._held.pop(stream, None)
        if held is not None:
            await self._send(held)

    def drop(self, stream: str | None = None) -> None:
        """Forget held requests of ``stream`` (all streams when None)."""
        if stream is None:
            self._held.clear()
        else:
            self._held.pop(stream, None)

    async def _attempts(self, outbound: Outbound) -> Delivered:
        settings = self._faults.settings.deliveries
        for attempt in range(settings.max_retries + 1):
            if not self._faults.roll("deliveries", settings.fail):
                return await self._send(outbound)
            self._count("faults.failed_attempts")
            if attempt < settings.max_retries:
                self._count("retries")
                backoff_ms = min(settings.retry_backoff_ms * 2**attempt, _MAX_BACKOFF_MS)
                await asyncio.sleep(backoff_ms / 1000)
        return Delivered(status=None, error="delivery failed (injected fault, retries exhausted)")

    async def _send(self, outbound: Outbound) -> Delivered:
        if self.client is None:
            return Delivered(status=None, error="the sandbox is not running")
        self._count("sent")
        try:
            response = await self.client.request(
                outbound.method,
                outbound.url,
                headers=outbound.headers,
                content=outbound.body or None,
                timeout=outbound.timeout,
            )
        except httpx.TimeoutException:
            return Delivered(status=None, error="timed out", timed_out=True)
        except httpx.HTTPError as exc:
            return Delivered(status=None, error=f"{type(exc).__name__}: {exc}")
        if 200 <= response.status_code < 300:
            self._count("delivered")
        return Delivered(status=response.status_code, body=response.content)
