"""The tables flowtrack stores, as SQLModel models.

The schema itself is only ever created by the Alembic migrations under ``alembic/``;
these models describe it for queries, and a test proves the two do not drift.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Integer, LargeBinary, String, Text, text
from sqlmodel import Field, SQLModel

from storage.columns import BigIntegerKey, UTCDateTime

# Naming convention so constraint names are the same on SQLite and PostgreSQL and
# migrations can refer to them.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _partial(name: str, *columns: str) -> Index:
    """Index only rows where the first column is set: lookups are by equality on it."""
    where = text(f"{columns[0]} IS NOT NULL")
    return Index(name, *columns, sqlite_where=where, postgresql_where=where)


def _primary_key() -> Column[int]:
    return Column(BigIntegerKey, primary_key=True, autoincrement=True)


def _lookup_index(name: str, column: str) -> Index:
    """Events by one correlation key, in history order (occurred_at, then arrival)."""
    return _partial(name, column, "occurred_at", "id")


class Event(SQLModel, table=True):
    """One canonical flow event, whatever source it came from.

    ``id`` is the arrival order; ``dedupe_key`` (a 16-byte digest of the source's
    identity for the event) makes every delivery after the first a no-op.
    """

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_occurred_at", "occurred_at", "id"),
        _lookup_index("ix_events_conversation", "conversation_id"),
        _lookup_index("ix_events_execution", "flow_execution_id"),
        _lookup_index("ix_events_launch", "launch_id"),
        _lookup_index("ix_events_flow", "flow_id"),
        # Flow statistics read a flow's runs from this index alone (storage.flowstats):
        # grouped by launch, conversation, execution, each in history order.
        _partial(
            "ix_events_flow_runs",
            "flow_id",
            "launch_id",
            "conversation_id",
            "flow_execution_id",
            "occurred_at",
            "id",
            "kind",
            "source",
            "node_id",
            "node_type",
        ),
    )

    id: int | None = Field(default=None, sa_column=_primary_key())
    dedupe_key: bytes = Field(sa_column=Column(LargeBinary(16), nullable=False, unique=True))
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    source: str = Field(sa_column=Column(String(16), nullable=False))
    occurred_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    launch_id: str | None = Field(default=None, sa_column=Column(String(128)))
    flow_execution_id: str | None = Field(default=None, sa_column=Column(String(128)))
    conversation_id: str | None = Field(default=None, sa_column=Column(String(128)))
    flow_id: str | None = Field(default=None, sa_column=Column(String(128)))
    flow_version: str | None = Field(default=None, sa_column=Column(String(64)))
    node_id: str | None = Field(default=None, sa_column=Column(String(255)))
    node_type: str | None = Field(default=None, sa_column=Column(String(255)))
    node_name: str | None = Field(default=None, sa_column=Column(String(255)))
    output_path: str | None = Field(default=None, sa_column=Column(String(255)))
    outcome: str | None = Field(default=None, sa_column=Column(String(64)))
    error_code: str | None = Field(default=None, sa_column=Column(String(255)))
    error_message: str | None = Field(default=None, sa_column=Column(Text))
    raw: str = Field(sa_column=Column(Text, nullable=False))


class DeadLetter(SQLModel, table=True):
    """A callback body that was valid JSON but could not be read as events.

    Kept verbatim with the reason, so nothing a sender delivered is silently dropped.
    """

    __tablename__ = "dead_letters"

    id: int | None = Field(default=None, sa_column=_primary_key())
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    reason: str = Field(sa_column=Column(Text, nullable=False))
    errors: str = Field(sa_column=Column(Text, nullable=False))
    webhook_id: str | None = Field(default=None, sa_column=Column(String(255)))
    body: str = Field(sa_column=Column(Text, nullable=False))


class Launch(SQLModel, table=True):
    """A flow execution flowtrack started, and where it stands.

    ``state``: pending → running → completed | failed | timed_out | terminated, or
    launch_failed when the platform refused it. Events are attributed to a launch by
    ``launch_id``, or by its execution or conversation id once those are known.
    """

    __tablename__ = "launches"
    __table_args__ = (
        _partial("ix_launches_conversation", "conversation_id"),
        Index("ix_launches_state_created", "state", "created_at"),
        Index("ix_launches_created", "created_at", "id"),
        Index("ix_launches_flow_created", "flow_id", "created_at"),
        # Flow statistics and the flow list count a flow's launches from this index alone.
        Index(
            "ix_launches_flow_states",
            "flow_id",
            "state",
            "current_node_id",
            "current_node_name",
            "created_at",
        ),
        # Only unfinished launches have a due time, so the sweep's index holds only them.
        _partial("ix_launches_due", "due_at"),
        _partial("ix_launches_stop", "stop_requested_at"),
    )

    id: str = Field(sa_column=Column(String(64), primary_key=True))
    flow_id: str = Field(sa_column=Column(String(128), nullable=False))
    flow_version: str | None = Field(default=None, sa_column=Column(String(64)))
    name: str | None = Field(default=None, sa_column=Column(String(255)))
    input_data: str | None = Field(default=None, sa_column=Column(Text))
    idempotency_key: str | None = Field(default=None, sa_column=Column(String(255), unique=True))
    state: str = Field(sa_column=Column(String(32), nullable=False))
    state_reason: str | None = Field(default=None, sa_column=Column(Text))
    error_code: str | None = Field(default=None, sa_column=Column(String(255)))
    flow_execution_id: str | None = Field(default=None, sa_column=Column(String(128), unique=True))
    conversation_id: str | None = Field(default=None, sa_column=Column(String(128)))
    current_node_id: str | None = Field(default=None, sa_column=Column(String(255)))
    current_node_name: str | None = Field(default=None, sa_column=Column(String(255)))
    timeout_seconds: int | None = Field(default=None, sa_column=Column(Integer))
    idle_timeout_seconds: int | None = Field(default=None, sa_column=Column(Integer))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    deadline_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    last_event_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    ended_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    due_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    claimed_by: str | None = Field(default=None, sa_column=Column(String(128)))
    claimed_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    termination_attempts: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default="0")
    )
    termination_reason: str | None = Field(default=None, sa_column=Column(String(32)))
    disconnect_requested_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    stop_requested_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    # A digest of the request that made it: an Idempotency-Key reused for another
    # request is refused instead of answering with this launch.
    request_fingerprint: str | None = Field(default=None, sa_column=Column(String(64)))


class AuditRecord(SQLModel, table=True):
    """One write done through the API: who (the API key's name) did what to which thing.

    ``outcome`` says what came of it (``created``, ``replayed``, ``refused``,
    ``requested``…), ``detail`` why (a termination's reason, a refusal's error code).
    """

    __tablename__ = "audit"
    __table_args__ = (
        Index("ix_audit_at", "at", "id"),
        _partial("ix_audit_target", "target", "id"),
    )

    id: int | None = Field(default=None, sa_column=_primary_key())
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    key_name: str = Field(sa_column=Column(String(100), nullable=False))
    action: str = Field(sa_column=Column(String(32), nullable=False))
    target: str | None = Field(default=None, sa_column=Column(String(255)))
    request_id: str | None = Field(default=None, sa_column=Column(String(128)))
    outcome: str = Field(sa_column=Column(String(32), nullable=False))
    detail: str | None = Field(default=None, sa_column=Column(Text))


# Each aggregate's own tables, registered on the same metadata.
from storage.tables.actions import ActionRun  # noqa: E402

__all__ = ["ActionRun", "AuditRecord", "DeadLetter", "Event", "Launch"]
from storage.tables.rollups import RollupFlow  # noqa: E402, F401
from storage.tables.tracking import HistoryPull, TrackingGap, TrackingLease  # noqa: E402, F401
from storage.tables.webhooks import WebhookAttempt, WebhookEndpoint, WebhookMessage  # noqa: E402, F401
