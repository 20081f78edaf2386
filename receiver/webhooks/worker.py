"""The delivery worker: claims due messages from the database and sends them.

Claims are leases in the database (storage.deliveries), so any number of replicas can
run a worker and no attempt is made twice; a replica that dies mid-attempt leaves a
lease that expires, and its message is attempted again (at-least-once: receivers
deduplicate on ``webhook-id``). Concurrency is capped per process and per endpoint: a
slow receiver holds at most its own share, never the others'.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from receiver.jobs.task import BackgroundTask
from receiver.settings.webhooks import WebhooksConfig
from receiver.webhooks import events, signing
from receiver.webhooks.metrics import WebhookMetrics
from receiver.webhooks.sender import Answer, Sender
from storage.deliveries import RETRY, Attempt, Claim, DeliveryStore
from storage.errors import StorageError
from storage.outbox import DELIVERED, UNDELIVERABLE

log = logging.getLogger("flowtrack.webhooks")

#: The longest wait a receiver's ``Retry-After`` can ask for.
MAX_RETRY_AFTER_SECONDS = 24 * 3600
GONE = "the receiver answered 410 Gone"


class DeliveryWorker(BackgroundTask):
    """Sends due webhook messages until stopped; :meth:`nudge` wakes it early."""

    task_name = "flowtrack-webhooks"

    def __init__(
        self,
        store: DeliveryStore,
        sender: Sender,
        config: WebhooksConfig,
        metrics: WebhookMetrics,
        *,
        owner: str | None = None,
    ) -> None:
        self._store = store
        self._sender = sender
        self._config = config
        self._metrics = metrics
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{os.urandom(4).hex()}"
        # Long enough that a lease never expires under an attempt still in flight.
        self._lease = config.timeout_seconds * 3 + 30
        self._wake = asyncio.Event()
        self._claim_at_least = max(1, config.concurrency // 4)
        # Claims come from the poll loop and with recorded attempts: one at a time, so
        # the room each one counts is still there when its messages arrive.
        self._claiming_lock = asyncio.Lock()
        self._inflight: set[asyncio.Task[None]] = set()
        self._per_endpoint: Counter[str] = Counter()
        # Attempts made, waiting to be recorded: many go in one transaction (one commit).
        self._made: list[tuple[Mapping[Any, Any], Attempt, Answer]] = []
        self._unrecorded = 0
        self._to_record = asyncio.Event()

    def nudge(self) -> None:
        """Look for due messages now (a message was just written or resent)."""
        self._wake.set()

    async def stop(self) -> None:
        """Stop claiming; let attempts in flight finish (up to the timeout), then close."""
        await super().stop()
        if self._inflight:
            await asyncio.wait(self._inflight, timeout=self._config.timeout_seconds + 5)
        for task in self._inflight:
            task.cancel()
        await asyncio.gather(*self._inflight, return_exceptions=True)
        await self._record(claim_more=False)
        await self._sender.aclose()

    async def _run(self) -> None:
        recorder = asyncio.create_task(self._recording())
        try:
            await self._claiming()
        finally:
            recorder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await recorder

    async def _recording(self) -> None:
        while True:
            await self._to_record.wait()
            self._to_record.clear()
            try:
                await self._record()
            except StorageError as exc:  # giving back spare claims failed: they expire
                log.warning(f"claiming failed: {exc}", extra={"action": "webhook.claim_failed"})

    async def _claiming(self) -> None:
        while True:
            try:
                full = await self._claim()
            except StorageError as exc:
                log.warning(f"claiming failed: {exc}", extra={"action": "webhook.claim_failed"})
                full = False
            if full:
                continue  # there may be more due
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._config.poll_seconds)
            self._wake.clear()

    def _room(self, recorded: int = 0) -> Claim | None:
        """What to claim now, if anything (``recorded`` attempts are about to be recorded).

        With deliveries in flight it waits until a quarter of the room is free: a claim
        is a write transaction, and one per finished delivery would cost more than it.
        """
        busy = len(self._inflight) + self._unrecorded - recorded
        room = self._config.concurrency - busy
        if room <= 0 or (busy and room < self._claim_at_least):
            return None
        most = self._config.endpoint_concurrency
        saturated = [each for each, count in self._per_endpoint.items() if count >= most]
        now = datetime.now(UTC)
        return Claim(now, self.owner, self._lease, room, saturated)

    async def _claim(self) -> bool:
        """Claim what there is room for; True when as many were due as there was room."""
        async with self._claiming_lock:
            claim = self._room()
            if claim is None:
                return False
            rows = await self._store.claim_due(
                now=claim.now,
                owner=claim.owner,
                lease_seconds=claim.lease_seconds,
                limit=claim.limit,
                busy=claim.busy,
            )
            return await self._start(rows, claim.limit)

    async def _start(self, rows: Sequence[Mapping[Any, Any]], room: int) -> bool:
        """Send the claimed messages (giving back those over an endpoint's share)."""
        most = self._config.endpoint_concurrency
        spare = []
        for row in rows:
            endpoint = row["endpoint_id"]
            if self._per_endpoint[endpoint] >= most:
                spare.append(row["id"])
                continue
            self._per_endpoint[endpoint] += 1
            task = asyncio.create_task(self._deliver(row))
            self._inflight.add(task)
            task.add_done_callback(partial(self._finished, endpoint=endpoint))
        if spare:
            await self._store.release(spare, self.owner)
        return len(rows) == room

    def _finished(self, task: asyncio.Task[None], endpoint: str) -> None:
        self._inflight.discard(task)
        self._per_endpoint[endpoint] -= 1
        if self._per_endpoint[endpoint] <= 0:
            del self._per_endpoint[endpoint]
        self._wake.set()  # room for another

    async def _deliver(self, row: Mapping[Any, Any]) -> None:
        now = datetime.now(UTC)
        secrets = [row["secret"]]
        until = row["previous_secret_until"]
        if row["previous_secret"] and until is not None and until > now:
            secrets.append(row["previous_secret"])
        try:
            body = events.body(row["event_type"], row["created_at"], row["data"])
        except Exception as exc:  # a message that cannot be rendered never will be
            log.exception("message not rendered", extra={"action": "webhook.render_failed"})
            error = f"cannot render the message: {exc.__class__.__name__}"
            answer = Answer(None, 0.0, error, hopeless=True)
        else:
            headers = signing.headers(secrets, row["id"], int(now.timestamp()), body)
            answer = await self._sender.post(row["url"], body, headers)
        self._made.append((row, self._outcome(row, answer, now), answer))
        self._unrecorded += 1
        self._to_record.set()

    async def _record(self, *, claim_more: bool = True) -> None:
        """Record every attempt made so far, and claim what that leaves room for, in one
        transaction (one commit where two would be); then count and log the attempts."""
        async with self._claiming_lock:
            made, self._made = self._made, []
            if not made:
                return
            claim = self._room(recorded=len(made)) if claim_more else None
            try:
                attempts = [attempt for _, attempt, _ in made]
                disabled, claimed = await self._store.finish_and_claim(attempts, claim)
            except StorageError as exc:
                # Their leases expire and the messages are attempted again: at-least-once.
                log.warning(
                    f"{len(made)} attempts not recorded: {exc}",
                    extra={"action": "webhook.record_failed"},
                )
                return
            finally:
                self._unrecorded -= len(made)
                self._wake.set()  # room for more
            if claim is not None:
                await self._start(claimed, claim.limit)
        for row, attempt, answer in made:
            self._metrics.attempt(attempt.result, answer.seconds)
            self._log(row, attempt, answer)
        for endpoint_id, reason in disabled.items():
            log.warning(
                f"endpoint disabled: {reason}",
                extra={"action": "webhook.endpoint_disabled", "endpoint_id": endpoint_id},
            )

    def _outcome(self, row: Mapping[Any, Any], answer: Answer, now: datetime) -> Attempt:
        schedule = self._config.schedule
        made = row["attempts"] + 1
        disable = None
        next_at = None
        if answer.delivered:
            result = DELIVERED
        elif answer.status == 410:
            result, disable = UNDELIVERABLE, GONE
        elif made >= len(schedule) or answer.hopeless:
            result = UNDELIVERABLE
        else:
            result = RETRY
            delay = schedule[made]
            if answer.retry_after is not None:
                delay = max(delay, min(answer.retry_after, MAX_RETRY_AFTER_SECONDS))
            next_at = now + timedelta(seconds=delay)
        return Attempt(
            message_id=row["id"],
            endpoint_id=row["endpoint_id"],
            owner=self.owner,
            at=now,
            result=result,
            status_code=answer.status,
            latency_ms=round(answer.seconds * 1000),
            error=answer.error,
            response_body=answer.body,
            next_attempt_at=next_at,
            disable=disable,
            disable_after=timedelta(seconds=self._config.disable_after_seconds),
        )

    @staticmethod
    def _log(row: Mapping[Any, Any], attempt: Attempt, answer: Answer) -> None:
        extra = {
            "action": f"webhook.{attempt.result}",
            "message_id": row["id"],
            "endpoint_id": row["endpoint_id"],
            "event_type": row["event_type"],
            "status": answer.status,
            "ms": attempt.latency_ms,
        }
        if attempt.result == DELIVERED:
            log.info("webhook delivered", extra=extra)
        else:
            log.warning(f"webhook not delivered: {answer.error}", extra=extra)
