"""Delivering webhook messages: claiming due ones, recording each attempt.

The delivery worker claims due messages with a lease (``claimed_by``, ``claimed_until``),
like the sweep claims launches: on PostgreSQL the claiming SELECT skips rows another
replica is claiming (FOR UPDATE SKIP LOCKED), so two replicas never send the same
attempt; SQLite serialises claims with its write lock. An attempt's outcome (the
attempt, the message's next step, the endpoint's health) is recorded in one
transaction, and the message moves on only for the claim's owner.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, insert, or_, select, update
from sqlalchemy.engine import RowMapping

from storage.engine import write_transaction
from storage.outbox import DELIVERED, PENDING, UNDELIVERABLE
from storage.store import Store
from storage.webhooks import attempts, endpoint_row, endpoints, messages

#: What an attempt came to (``webhook_attempts.result``).
RETRY = "retry"
ATTEMPT_RESULTS = (DELIVERED, RETRY, UNDELIVERABLE)


# -- delivery ----------------------------------------------------------------------------

#: What the worker reads of a claimed message's endpoint, next to the message.
_ENDPOINT_COLUMNS = (
    endpoints.c.url,
    endpoints.c.secret,
    endpoints.c.previous_secret,
    endpoints.c.previous_secret_until,
)


def claim_due(
    engine: Engine,
    *,
    now: datetime,
    owner: str,
    lease_seconds: float,
    limit: int,
    busy: Sequence[str] = (),
) -> Sequence[RowMapping]:
    """Claim up to ``limit`` due messages of enabled endpoints, oldest due first.

    ``busy`` endpoints (this process sends them all it may at once) are left out, so
    their messages stay for a replica with room, or for later.
    """
    until = now + timedelta(seconds=lease_seconds)
    due = [
        messages.c.next_attempt_at <= now,
        or_(messages.c.claimed_until.is_(None), messages.c.claimed_until < now),
        endpoints.c.enabled.is_(True),
    ]
    if busy:
        due.append(messages.c.endpoint_id.not_in(list(busy)))
    with write_transaction(engine) as connection:
        ids = (
            connection.execute(
                select(messages.c.id)
                .join(endpoints, endpoints.c.id == messages.c.endpoint_id)
                .where(*due)
                .order_by(messages.c.next_attempt_at)
                .limit(limit)
                .with_for_update(skip_locked=True, of=messages)
            )
            .scalars()
            .all()
        )
        if not ids:
            return []
        connection.execute(
            update(messages)
            .where(messages.c.id.in_(ids))
            .values(claimed_by=owner, claimed_until=until)
        )
        return (
            connection.execute(
                select(messages, *_ENDPOINT_COLUMNS)
                .join(endpoints, endpoints.c.id == messages.c.endpoint_id)
                .where(messages.c.id.in_(ids))
            )
            .mappings()
            .all()
        )


def release(engine: Engine, message_ids: Sequence[str], owner: str) -> None:
    """Give back claimed messages that were not sent (the process is stopping)."""
    with write_transaction(engine) as connection:
        connection.execute(
            update(messages)
            .where(messages.c.id.in_(list(message_ids)), messages.c.claimed_by == owner)
            .values(claimed_by=None, claimed_until=None)
        )


@dataclass(frozen=True)
class Attempt:
    """One POST of a message and what comes of it.

    ``result``: ``delivered``, ``retry`` (at ``next_attempt_at``) or ``failed``.
    ``disable`` disables the endpoint with that reason (a 410); an endpoint that has
    been failing for ``disable_after`` is disabled too.
    """

    message_id: str
    endpoint_id: str
    owner: str
    at: datetime
    result: str
    status_code: int | None
    latency_ms: int | None
    error: str | None
    response_body: str | None
    next_attempt_at: datetime | None
    disable: str | None
    disable_after: timedelta


def finish_attempt(engine: Engine, attempt: Attempt) -> str | None:
    """Log the attempt and move its message on; why the endpoint was disabled, if it was."""
    with write_transaction(engine) as connection:
        connection.execute(
            insert(attempts).values(
                message_id=attempt.message_id,
                endpoint_id=attempt.endpoint_id,
                attempted_at=attempt.at,
                result=attempt.result,
                status_code=attempt.status_code,
                latency_ms=attempt.latency_ms,
                error=attempt.error,
                response_body=attempt.response_body,
            )
        )
        finished = attempt.result != RETRY
        connection.execute(
            update(messages)
            .where(messages.c.id == attempt.message_id, messages.c.claimed_by == attempt.owner)
            .values(
                state=PENDING if not finished else attempt.result,
                attempts=messages.c.attempts + 1,
                next_attempt_at=attempt.next_attempt_at if not finished else None,
                finished_at=attempt.at if finished else None,
                claimed_by=None,
                claimed_until=None,
                last_status=attempt.status_code,
                last_error=attempt.error,
            )
        )
        return _endpoint_health(connection, attempt)


def _endpoint_health(connection: Connection, attempt: Attempt) -> str | None:
    this = endpoints.c.id == attempt.endpoint_id
    if attempt.result == DELIVERED:
        connection.execute(
            update(endpoints)
            .where(this, endpoints.c.failing_since.is_not(None))
            .values(failing_since=None)
        )
        return None
    endpoint = endpoint_row(connection, attempt.endpoint_id)
    if endpoint is None or not endpoint["enabled"]:
        return None
    since = endpoint["failing_since"] or attempt.at
    reason = attempt.disable
    if reason is None and attempt.at - since >= attempt.disable_after:
        reason = f"every attempt failed since {since.isoformat()}"
    values: dict[str, Any] = {"failing_since": since}
    if reason is not None:
        values |= {"enabled": False, "disabled_reason": reason, "updated_at": attempt.at}
    connection.execute(update(endpoints).where(this).values(values))
    return reason


class DeliveryStore(Store):
    """The delivery worker's claims and attempts, for async callers (queries in a thread)."""

    async def claim_due(
        self,
        *,
        now: datetime,
        owner: str,
        lease_seconds: float,
        limit: int,
        busy: Sequence[str] = (),
    ) -> Sequence[RowMapping]:
        """Claim up to ``limit`` due messages (see :func:`claim_due`)."""
        return await self._run(
            claim_due, now=now, owner=owner, lease_seconds=lease_seconds, limit=limit, busy=busy
        )

    async def release(self, message_ids: Sequence[str], owner: str) -> None:
        """Give back claimed messages that were not sent."""
        await self._run(release, message_ids, owner)

    async def finish_attempt(self, attempt: Attempt) -> str | None:
        """Log an attempt; why its endpoint was disabled, if it was."""
        return await self._run(finish_attempt, attempt)
