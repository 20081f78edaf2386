"""The audit trail: every write done through the API, with who did it (an API key's name).

Records are only ever added (and deleted by retention once older than the retention
period); a listing is newest first, paged by id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Select, insert, select
from sqlalchemy.engine import RowMapping

from storage.engine import read_connection, write_transaction
from storage.store import Store
from storage.tables import AuditRecord

audit = AuditRecord.__table__  # type: ignore[attr-defined]

# What was done (``action``) and what came of it (``outcome``).
LAUNCH = "launch"
TERMINATE = "terminate"
REGISTRATION = "registration"
DEAD_LETTER_REPLAY = "dead_letter_replay"
#: A data action run asked for (target: the run id), and cancelled.
ACTION_RUN = "action_run"
ACTION_RUN_CANCEL = "action_run_cancel"
#: Writes to webhook endpoints (target: the endpoint id; for a resend, the message id).
WEBHOOK_ENDPOINT_CREATE = "webhook_endpoint_create"
WEBHOOK_ENDPOINT_UPDATE = "webhook_endpoint_update"
WEBHOOK_ENDPOINT_DELETE = "webhook_endpoint_delete"
WEBHOOK_ENDPOINT_ROTATE = "webhook_secret_rotate"
WEBHOOK_ENDPOINT_TEST = "webhook_endpoint_test"
WEBHOOK_MESSAGE_RESEND = "webhook_message_resend"
WEBHOOK_ENDPOINT_RECOVER = "webhook_endpoint_recover"
ACTIONS = (
    LAUNCH,
    TERMINATE,
    REGISTRATION,
    DEAD_LETTER_REPLAY,
    ACTION_RUN,
    ACTION_RUN_CANCEL,
    WEBHOOK_ENDPOINT_CREATE,
    WEBHOOK_ENDPOINT_UPDATE,
    WEBHOOK_ENDPOINT_DELETE,
    WEBHOOK_ENDPOINT_ROTATE,
    WEBHOOK_ENDPOINT_TEST,
    WEBHOOK_MESSAGE_RESEND,
    WEBHOOK_ENDPOINT_RECOVER,
)
CREATED = "created"
REPLAYED = "replayed"
REQUESTED = "requested"
REFUSED = "refused"
COMPLETED = "completed"
FAILED = "failed"
OUTCOMES = (CREATED, REPLAYED, REQUESTED, REFUSED, COMPLETED, FAILED)
#: Who registers when no API key is involved: ``flowtrack register``, or the app's start.
BY_REGISTER_COMMAND = "flowtrack:register"
BY_STARTUP = "flowtrack:startup"


@dataclass(frozen=True)
class AuditEntry:
    """One write to record: who (``key_name``) did ``action`` to ``target``."""

    at: datetime
    key_name: str
    action: str
    target: str | None
    outcome: str
    request_id: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class AuditFilter:
    """Which records to list; every given field must match (``since`` <= at < ``until``)."""

    action: str | None = None
    key_name: str | None = None
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def record(engine: Engine, entry: AuditEntry) -> int:
    """Store ``entry``; returns its id."""
    with write_transaction(engine) as connection:
        result = connection.execute(insert(audit).values(**entry.__dict__))
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def list_audit(
    engine: Engine, where: AuditFilter, *, before: int | None = None, limit: int = 100
) -> Sequence[RowMapping]:
    """Records newest first, older than the cursor id."""
    statement: Select[Any] = select(audit)
    for column, value in (
        (audit.c.action, where.action),
        (audit.c.key_name, where.key_name),
        (audit.c.target, where.target),
    ):
        if value is not None:
            statement = statement.where(column == value)
    if where.since is not None:
        statement = statement.where(audit.c.at >= where.since)
    if where.until is not None:
        statement = statement.where(audit.c.at < where.until)
    if before is not None:
        statement = statement.where(audit.c.id < before)
    statement = statement.order_by(audit.c.id.desc()).limit(limit)
    with read_connection(engine) as connection:
        return connection.execute(statement).mappings().all()


class AuditStore(Store):
    """The audit trail, for async callers (queries in a worker thread)."""

    async def record(self, entry: AuditEntry) -> int:
        """Store one record; returns its id."""
        return await self._run(record, entry)

    async def list(
        self, where: AuditFilter, *, before: int | None = None, limit: int = 100
    ) -> Sequence[RowMapping]:
        """Records newest first, older than the cursor id."""
        return await self._run(list_audit, where, before=before, limit=limit)
