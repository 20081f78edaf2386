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

from sqlalchemy import Connection, Engine, bindparam, insert, or_, select, update
from sqlalchemy.engine import RowMapping

from storage.engine import read_connection, write_transaction
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


@dataclass(frozen=True)
class Claim:
    """What to claim: up to ``limit`` due messages for ``owner``, leased for a while.

    ``busy`` endpoints (this process sends them all it may at once) are left out, so
    their messages stay for a replica with room, or for later.
    """

    now: datetime
    owner: str
    lease_seconds: float
    limit: int
    busy: Sequence[str] = ()

    def due(self) -> list[Any]:
        due = [
            messages.c.next_attempt_at <= self.now,
            or_(messages.c.claimed_until.is_(None), messages.c.claimed_until < self.now),
            endpoints.c.enabled.is_(True),
        ]
        if self.busy:
            due.append(messages.c.endpoint_id.not_in(list(self.busy)))
        return due


_DUE = select(messages.c.id).join(endpoints, endpoints.c.id == messages.c.endpoint_id)


def claim_due(
    engine: Engine,
    *,
    now: datetime,
    owner: str,
    lease_seconds: float,
    limit: int,
    busy: Sequence[str] = (),
) -> Sequence[RowMapping]:
    """Claim up to ``limit`` due messages of enabled endpoints, oldest due first."""
    claim = Claim(now, owner, lease_seconds, limit, busy)
    # Mostly nothing is due: finding that out must not take SQLite's write lock, which
    # the event writer needs all the time.
    with read_connection(engine) as connection:
        if connection.execute(_DUE.where(*claim.due()).limit(1)).first() is None:
            return []
    with write_transaction(engine) as connection:
        return _claim(connection, claim)


def _claim(connection: Connection, claim: Claim) -> Sequence[RowMapping]:
    if claim.limit <= 0:
        return []
    ids = (
        connection.execute(
            _DUE.where(*claim.due())
            .order_by(messages.c.next_attempt_at)
            .limit(claim.limit)
            .with_for_update(skip_locked=True, of=messages)
        )
        .scalars()
        .all()
    )
    if not ids:
        return []
    until = claim.now + timedelta(seconds=claim.lease_seconds)
    connection.execute(
        update(messages)
        .where(messages.c.id.in_(ids))
        .values(claimed_by=claim.owner, claimed_until=until)
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
    """Log one attempt (see :func:`finish_attempts`); why its endpoint was disabled, if it was."""
    return finish_attempts(engine, [attempt]).get(attempt.endpoint_id)


def finish_attempts(engine: Engine, batch: Sequence[Attempt]) -> dict[str, str]:
    """Log attempts and move their messages on, in one transaction (one commit for many
    deliveries); the endpoints this disabled, with why."""
    return finish_and_claim(engine, batch, None)[0]


def finish_and_claim(
    engine: Engine, batch: Sequence[Attempt], claim: Claim | None
) -> tuple[dict[str, str], Sequence[RowMapping]]:
    """:func:`finish_attempts`, then ``claim`` more in the same transaction: one commit
    where two would be (SQLite has one write lock, shared with the event writer)."""
    if not batch:
        return {}, []
    with write_transaction(engine) as connection:
        connection.execute(insert(attempts), [_logged(each) for each in batch])
        connection.execute(_MOVE_ON, [_moved(each) for each in batch])
        disabled = {}
        for endpoint_id in dict.fromkeys(each.endpoint_id for each in batch):
            mine = [each for each in batch if each.endpoint_id == endpoint_id]
            reason = _endpoint_health(connection, endpoint_id, mine)
            if reason is not None:
                disabled[endpoint_id] = reason
        claimed = _claim(connection, claim) if claim is not None else []
    return disabled, claimed


def _logged(attempt: Attempt) -> dict[str, Any]:
    return {
        "message_id": attempt.message_id,
        "endpoint_id": attempt.endpoint_id,
        "attempted_at": attempt.at,
        "result": attempt.result,
        "status_code": attempt.status_code,
        "latency_ms": attempt.latency_ms,
        "error": attempt.error,
        "response_body": attempt.response_body,
    }


# Only for the claim's owner: a message whose lease expired belongs to its new claimant.
_MOVE_ON = (
    update(messages)
    .where(messages.c.id == bindparam("m_id"), messages.c.claimed_by == bindparam("m_owner"))
    .values(
        state=bindparam("m_state"),
        attempts=messages.c.attempts + 1,
        next_attempt_at=bindparam("m_next"),
        finished_at=bindparam("m_finished"),
        claimed_by=None,
        claimed_until=None,
        last_status=bindparam("m_status"),
        last_error=bindparam("m_error"),
    )
)


def _moved(attempt: Attempt) -> dict[str, Any]:
    finished = attempt.result != RETRY
    return {
        "m_id": attempt.message_id,
        "m_owner": attempt.owner,
        "m_state": attempt.result if finished else PENDING,
        "m_next": None if finished else attempt.next_attempt_at,
        "m_finished": attempt.at if finished else None,
        "m_status": attempt.status_code,
        "m_error": attempt.error,
    }


def _endpoint_health(
    connection: Connection, endpoint_id: str, batch: Sequence[Attempt]
) -> str | None:
    """Follow the endpoint's failures through its attempts, in order; disable it on a 410
    or when it has been failing for longer than allowed."""
    this = endpoints.c.id == endpoint_id
    endpoint = endpoint_row(connection, endpoint_id)
    if endpoint is None:
        return None
    since, reason = endpoint["failing_since"], None
    for attempt in batch:
        if attempt.result == DELIVERED:
            since = None
            continue
        since = since or attempt.at
        reason = reason or attempt.disable
        if reason is None and attempt.at - since >= attempt.disable_after:
            reason = f"every attempt failed since {since.isoformat()}"
    values: dict[str, Any] = {}
    if since != endpoint["failing_since"]:
        values["failing_since"] = since
    if reason is not None and endpoint["enabled"]:
        values |= {"enabled": False, "disabled_reason": reason, "updated_at": batch[-1].at}
    else:
        reason = None
    if values:
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

    async def finish_attempts(self, batch: Sequence[Attempt]) -> dict[str, str]:
        """Log attempts in one transaction; the endpoints this disabled, with why."""
        return await self._run(finish_attempts, batch)

    async def finish_and_claim(
        self, batch: Sequence[Attempt], claim: Claim | None
    ) -> tuple[dict[str, str], Sequence[RowMapping]]:
        """Log attempts and claim more, in one transaction."""
        return await self._run(finish_and_claim, batch, claim)
