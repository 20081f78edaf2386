"""Where the bridge's messages go: through the writer, like a callback.

A message counts once it is committed (durable before it counts); the same fact
arriving again — from the socket twice during a rollover, from EventBridge, a data
action or the history — is a duplicate by its dedupe key. Writes are not awaited one
by one: the messages read in one turn of the event loop (up to 500) go to the writer as
one request, up to ``max_in_flight`` requests are pending at once, the writer's group
commit stores a burst together, and a full window holds the socket's reader back.

A ``v2.flows.instances.flow`` message cut to fit (``executionItemsTruncated``) carries a
pre-signed ``executionHistoryUri``: the full record is downloaded from it and stored
too (source ``history``; the items the message did carry are duplicates).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from receiver.genesys import GenesysError
from receiver.history_pull.record import UnreadableRecord, read_record
from receiver.ingest.notifications import read_notification
from storage.errors import StorageError
from storage.records import DeadLetterRecord, EventRecord, WriteResult
from storage.vocabulary import NOTIFICATION
from storage.writer import EventWriter

log = logging.getLogger("flowtrack.bridge")

_RETRY_SECONDS = (0.1, 0.5, 1.0, 2.0, 5.0)
#: Most messages in one writer request.
MAX_COALESCED = 500


class SinkCounts:
    """What the sink has done since start (read by metrics and the status)."""

    def __init__(self) -> None:
        self.messages = 0
        self.stored_events = 0
        self.duplicate_events = 0
        self.dead_letters = 0
        self.write_retries = 0
        self.truncated = 0


class MessageSink:
    """Turns notification messages into events and stores them through the writer."""

    def __init__(
        self,
        writer: EventWriter,
        *,
        download: Callable[[str], Awaitable[Any]] | None = None,
        max_in_flight: int = 512,
    ) -> None:
        """``download`` fetches a pre-signed link (for truncated messages)."""
        self._writer = writer
        self._download = download
        self._window = asyncio.Semaphore(max_in_flight)
        self._pending: set[asyncio.Future[None]] = set()
        self.counts = SinkCounts()
        # Messages read in one turn of the event loop go to the writer as one request.
        self._events: list[EventRecord] = []
        self._letters: list[DeadLetterRecord] = []
        self._messages = 0
        self._flushing = False

    async def feed(self, message: dict[str, Any], received_at: datetime) -> None:
        """Store one flow message (not a system frame); returns once it is queued."""
        errors: list[dict[str, str]] = []
        events = read_notification(
            message, path="", source=NOTIFICATION, received_at=received_at, errors=errors
        )
        letters: tuple[DeadLetterRecord, ...] = ()
        if errors:
            events = []
            letters = (_dead_letter(message, errors, received_at),)
        self._events.extend(events)
        self._letters.extend(letters)
        self._messages += 1
        if self._messages >= MAX_COALESCED:
            await self._flush()
        elif not self._flushing:
            self._flushing = True
            asyncio.get_running_loop().call_soon(self._flush_later)
        body = message.get("eventBody")
        if isinstance(body, dict) and body.get("executionItemsTruncated") is True:
            uri, execution_id = body.get("executionHistoryUri"), body.get("executionId")
            if isinstance(uri, str) and isinstance(execution_id, str) and self._download:
                self.counts.truncated += 1
                await self._submit(self._complete(uri, execution_id))

    def _flush_later(self) -> None:
        self._flushing = False
        if self._messages:
            self._track(asyncio.ensure_future(self._flush()))

    async def _flush(self) -> None:
        events, letters, messages = self._events, tuple(self._letters), self._messages
        self._events, self._letters, self._messages = [], [], 0
        if messages:
            await self._submit(self._store(events, letters, messages))

    def _track(self, task: asyncio.Future[None]) -> None:
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _submit(self, work: Awaitable[None]) -> None:
        await self._window.acquire()
        task = asyncio.ensure_future(work)
        self._pending.add(task)
        task.add_done_callback(self._done)

    async def _complete(self, uri: str, execution_id: str) -> None:
        """The whole record of a run whose message was cut, from its download link."""
        assert self._download is not None
        try:
            document = await self._download(uri)
            events = read_record(document, instance_id=execution_id, received_at=datetime.now(UTC))
        except (GenesysError, UnreadableRecord) as exc:
            log.warning(
                f"the full history of a truncated message could not be read: {exc}",
                extra={"action": "bridge.truncated_unread", "execution_id": execution_id},
            )
            return
        await self._store(events, (), 0)

    async def drain(self) -> None:
        """Wait until every message fed so far is committed (or given up)."""
        await self._flush()
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    def _done(self, task: asyncio.Future[None]) -> None:
        self._pending.discard(task)
        self._window.release()

    async def _store(
        self, events: list[EventRecord], letters: tuple[DeadLetterRecord, ...], messages: int = 1
    ) -> None:
        for attempt, pause in enumerate((*_RETRY_SECONDS, None)):
            try:
                result = await self._writer.write(events, letters)
            except StorageError as exc:
                if pause is None:
                    log.error(
                        f"a notification was not stored after {attempt + 1} tries: {exc}",
                        extra={"action": "bridge.store_failed"},
                    )
                    return
                self.counts.write_retries += 1
                await asyncio.sleep(pause)
                continue
            self._count(result, len(letters), messages)
            return

    def _count(self, result: WriteResult, letters: int, messages: int) -> None:
        counts = self.counts
        counts.messages += messages
        counts.stored_events += result.accepted
        counts.duplicate_events += result.duplicates
        counts.dead_letters += letters


def _dead_letter(
    message: dict[str, Any], errors: list[dict[str, str]], received_at: datetime
) -> DeadLetterRecord:
    first = errors[0]
    reason = f"notification bridge: {first['field']}: {first['problem']}"
    log.warning(reason, extra={"action": "bridge.unreadable"})
    return DeadLetterRecord(
        received_at.astimezone(UTC),
        reason,
        orjson.dumps(errors).decode(),
        None,
        orjson.dumps(message).decode(),
    )
