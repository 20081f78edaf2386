"""Webhook endpoints and their delivery log: managing endpoints, reading, resending.

How messages are claimed and attempts recorded is storage.deliveries; how they are
written in the first place is storage.outbox.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, tuple_, update
from sqlalchemy.engine import RowMapping

from storage import outbox
from storage.engine import read_connection, write_transaction
from storage.outbox import PENDING, UNDELIVERABLE, WEBHOOK_TEST
from storage.store import Store
from storage.tables.webhooks import WebhookAttempt, WebhookEndpoint, WebhookMessage

endpoints = WebhookEndpoint.__table__  # type: ignore[attr-defined]
messages = WebhookMessage.__table__  # type: ignore[attr-defined]
attempts = WebhookAttempt.__table__  # type: ignore[attr-defined]

# -- endpoints ---------------------------------------------------------------------------


def create_endpoint(engine: Engine, values: dict[str, Any]) -> RowMapping:
    """Store a new endpoint (every column given); the stored row."""
    with write_transaction(engine) as connection:
        connection.execute(insert(endpoints).values(**values))
        return endpoint_row(connection, values["id"])  # type: ignore[return-value]


def get_endpoint(engine: Engine, endpoint_id: str) -> RowMapping | None:
    """One endpoint by id."""
    with read_connection(engine) as connection:
        return endpoint_row(connection, endpoint_id)


def list_endpoints(engine: Engine, *, after: str | None, limit: int) -> Sequence[RowMapping]:
    """Endpoints in id order, after the cursor id."""
    statement = select(endpoints).order_by(endpoints.c.id).limit(limit)
    if after is not None:
        statement = statement.where(endpoints.c.id > after)
    with read_connection(engine) as connection:
        return connection.execute(statement).mappings().all()


def update_endpoint(
    engine: Engine, endpoint_id: str, values: dict[str, Any], now: datetime
) -> RowMapping | None:
    """Change an endpoint; enabling one forgets why it was disabled and its failures."""
    changes = {**values, "updated_at": now}
    if values.get("enabled"):
        changes |= {"disabled_reason": None, "failing_since": None}
    with write_transaction(engine) as connection:
        connection.execute(update(endpoints).where(endpoints.c.id == endpoint_id).values(changes))
        return endpoint_row(connection, endpoint_id)


def delete_endpoint(engine: Engine, endpoint_id: str) -> bool:
    """Delete an endpoint with its messages and their attempts; False when unknown."""
    with write_transaction(engine) as connection:
        connection.execute(delete(attempts).where(attempts.c.endpoint_id == endpoint_id))
        connection.execute(delete(messages).where(messages.c.endpoint_id == endpoint_id))
        gone = connection.execute(delete(endpoints).where(endpoints.c.id == endpoint_id))
    return bool(gone.rowcount)


def rotate_secret(
    engine: Engine, endpoint_id: str, secret: str, *, grace_until: datetime, now: datetime
) -> RowMapping | None:
    """The new secret signs from now on; the current one too, until ``grace_until``."""
    with write_transaction(engine) as connection:
        connection.execute(
            update(endpoints)
            .where(endpoints.c.id == endpoint_id)
            .values(
                previous_secret=endpoints.c.secret,
                previous_secret_until=grace_until,
                secret=secret,
                updated_at=now,
            )
        )
        return endpoint_row(connection, endpoint_id)


def send_test(engine: Engine, endpoint_id: str, data: bytes, now: datetime) -> str | None:
    """A ``webhook.test`` message for this endpoint only; its id (None: no such endpoint)."""
    with write_transaction(engine) as connection:
        if endpoint_row(connection, endpoint_id) is None:
            return None
        sent = outbox.enqueue(
            connection,
            WEBHOOK_TEST,
            data,
            flow_id=None,
            subject=None,
            now=now,
            endpoint_id=endpoint_id,
        )
    return sent[0]


def endpoint_row(connection: Connection, endpoint_id: str) -> RowMapping | None:
    found = connection.execute(select(endpoints).where(endpoints.c.id == endpoint_id))
    return found.mappings().first()


# -- the delivery log --------------------------------------------------------------------


def list_messages(
    engine: Engine,
    endpoint_id: str,
    *,
    state: str | None,
    before: tuple[datetime, str] | None,
    limit: int,
) -> tuple[Sequence[RowMapping], dict[str, list[RowMapping]]]:
    """An endpoint's messages, newest first, and each one's attempts (oldest first)."""
    statement = select(messages).where(messages.c.endpoint_id == endpoint_id)
    if state is not None:
        statement = statement.where(messages.c.state == state)
    if before is not None:
        position = tuple_(messages.c.created_at, messages.c.id)
        statement = statement.where(position < tuple_(*before))
    statement = statement.order_by(messages.c.created_at.desc(), messages.c.id.desc())
    with read_connection(engine) as connection:
        found = connection.execute(statement.limit(limit)).mappings().all()
        by_message: dict[str, list[RowMapping]] = {row["id"]: [] for row in found}
        if by_message:
            logged = connection.execute(
                select(attempts)
                .where(attempts.c.message_id.in_(list(by_message)))
                .order_by(attempts.c.id)
            )
            for each in logged.mappings():
                by_message[each["message_id"]].append(each)
    return found, by_message


def resend(engine: Engine, message_id: str, now: datetime) -> RowMapping | None:
    """Send a message again now, on a fresh schedule, with the same id; None: unknown."""
    with write_transaction(engine) as connection:
        connection.execute(
            update(messages)
            .where(messages.c.id == message_id)
            .values(state=PENDING, attempts=0, next_attempt_at=now, finished_at=None)
        )
        found = connection.execute(select(messages).where(messages.c.id == message_id))
        return found.mappings().first()


def recover(engine: Engine, endpoint_id: str, since: datetime, now: datetime) -> int:
    """Send again every message of the endpoint that failed and was created since ``since``."""
    with write_transaction(engine) as connection:
        recovered = connection.execute(
            update(messages)
            .where(
                messages.c.endpoint_id == endpoint_id,
                messages.c.state == UNDELIVERABLE,
                messages.c.created_at >= since,
            )
            .values(state=PENDING, attempts=0, next_attempt_at=now, finished_at=None)
        )
    return int(recovered.rowcount)


def delete_finished(engine: Engine, *, cutoff: datetime, limit: int) -> int:
    """Retention: finished messages (delivered or failed) older than ``cutoff`` and their
    attempts, at most ``limit`` messages; how many messages went."""
    with write_transaction(engine) as connection:
        doomed = (
            connection.execute(
                select(messages.c.id)
                .where(messages.c.created_at < cutoff, messages.c.state != PENDING)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            .scalars()
            .all()
        )
        if not doomed:
            return 0
        connection.execute(delete(attempts).where(attempts.c.message_id.in_(doomed)))
        connection.execute(delete(messages).where(messages.c.id.in_(doomed)))
    return len(doomed)


def count_messages(engine: Engine, *, state: str | None = None) -> int:
    """How many messages there are (in ``state``): tests and benchmarks."""
    statement = select(func.count()).select_from(messages)
    if state is not None:
        statement = statement.where(messages.c.state == state)
    with read_connection(engine) as connection:
        return int(connection.execute(statement).scalar_one())


class WebhookStore(Store):
    """Webhook endpoints, messages and attempts, for async callers (queries in a thread)."""

    async def create_endpoint(self, values: dict[str, Any]) -> RowMapping:
        """Store a new endpoint; the stored row."""
        return await self._run(create_endpoint, values)

    async def get_endpoint(self, endpoint_id: str) -> RowMapping | None:
        """One endpoint by id."""
        return await self._run(get_endpoint, endpoint_id)

    async def list_endpoints(self, *, after: str | None, limit: int) -> Sequence[RowMapping]:
        """Endpoints in id order, after the cursor id."""
        return await self._run(list_endpoints, after=after, limit=limit)

    async def update_endpoint(
        self, endpoint_id: str, values: dict[str, Any], now: datetime
    ) -> RowMapping | None:
        """Change an endpoint; the row as it now is (None: unknown)."""
        return await self._run(update_endpoint, endpoint_id, values, now)

    async def delete_endpoint(self, endpoint_id: str) -> bool:
        """Delete an endpoint and its messages; False when unknown."""
        return await self._run(delete_endpoint, endpoint_id)

    async def rotate_secret(
        self, endpoint_id: str, secret: str, *, grace_until: datetime, now: datetime
    ) -> RowMapping | None:
        """Sign with ``secret`` from now on, and with the current one until ``grace_until``."""
        return await self._run(rotate_secret, endpoint_id, secret, grace_until=grace_until, now=now)

    async def send_test(self, endpoint_id: str, data: bytes, now: datetime) -> str | None:
        """A test message for this endpoint only; its id (None: no such endpoint)."""
        return await self._run(send_test, endpoint_id, data, now)

    async def list_messages(
        self,
        endpoint_id: str,
        *,
        state: str | None,
        before: tuple[datetime, str] | None,
        limit: int,
    ) -> tuple[Sequence[RowMapping], dict[str, list[RowMapping]]]:
        """An endpoint's messages, newest first, with their attempts."""
        return await self._run(list_messages, endpoint_id, state=state, before=before, limit=limit)

    async def resend(self, message_id: str, now: datetime) -> RowMapping | None:
        """Send a message again now, with the same id; None when unknown."""
        return await self._run(resend, message_id, now)

    async def recover(self, endpoint_id: str, since: datetime, now: datetime) -> int:
        """Send again the endpoint's messages that failed since ``since``; how many."""
        return await self._run(recover, endpoint_id, since, now)
