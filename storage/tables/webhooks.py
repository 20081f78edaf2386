"""Outbound webhooks (issue #17): endpoints, the outbox of messages, delivery attempts.

One ``webhook_messages`` row is one event for one endpoint: the outbox row written in
the transaction of the state change that caused it, then claimed and sent by a delivery
worker until it is delivered or fails for good. Its id is the ``webhook-id`` the
receiver sees on every attempt. Each attempt is kept in ``webhook_attempts`` (the
delivery log).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Column, Index, Integer, String, Text, text
from sqlmodel import Field, SQLModel

from storage.columns import BigIntegerKey, UTCDateTime


class WebhookEndpoint(SQLModel, table=True):
    """A URL that receives signed messages of the event types it subscribes to.

    ``event_types`` and ``flow_ids`` are JSON arrays (``flow_ids`` null: every flow).
    ``previous_secret`` still signs, next to ``secret``, until ``previous_secret_until``
    (a rotation's grace period). ``failing_since`` is the first failed attempt since the
    last success: the endpoint is disabled once it has been failing too long.
    """

    __tablename__ = "webhook_endpoints"

    id: str = Field(sa_column=Column(String(40), primary_key=True))
    url: str = Field(sa_column=Column(Text, nullable=False))
    description: str | None = Field(default=None, sa_column=Column(String(255)))
    event_types: str = Field(sa_column=Column(Text, nullable=False))
    flow_ids: str | None = Field(default=None, sa_column=Column(Text))
    enabled: bool = Field(sa_column=Column(Boolean, nullable=False))
    disabled_reason: str | None = Field(default=None, sa_column=Column(Text))
    secret: str = Field(sa_column=Column(String(100), nullable=False))
    previous_secret: str | None = Field(default=None, sa_column=Column(String(100)))
    previous_secret_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    failing_since: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class WebhookMessage(SQLModel, table=True):
    """One event for one endpoint: the outbox row, and where its delivery stands.

    ``state``: pending → delivered | failed. ``data`` is the facts of the event (a JSON
    snapshot taken with the state change), rendered into the body at each attempt by the
    event type's model, so every attempt sends the same body. ``attempts`` counts the
    attempts of the current schedule (a resend starts it again); ``next_attempt_at`` is
    set only while pending, so the worker's index holds only what is still to send.
    """

    __tablename__ = "webhook_messages"
    __table_args__ = (
        Index(
            "ix_webhook_messages_due",
            "next_attempt_at",
            sqlite_where=text("next_attempt_at IS NOT NULL"),
            postgresql_where=text("next_attempt_at IS NOT NULL"),
        ),
        Index("ix_webhook_messages_endpoint", "endpoint_id", "created_at", "id"),
        Index("ix_webhook_messages_created", "created_at"),
    )

    id: str = Field(sa_column=Column(String(40), primary_key=True))
    endpoint_id: str = Field(sa_column=Column(String(40), nullable=False))
    event_type: str = Field(sa_column=Column(String(64), nullable=False))
    flow_id: str | None = Field(default=None, sa_column=Column(String(128)))
    subject: str | None = Field(default=None, sa_column=Column(String(128)))
    data: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    state: str = Field(sa_column=Column(String(16), nullable=False))
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    next_attempt_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    claimed_by: str | None = Field(default=None, sa_column=Column(String(128)))
    claimed_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    last_status: int | None = Field(default=None, sa_column=Column(Integer))
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class WebhookAttempt(SQLModel, table=True):
    """One POST of a message: when, what came back (status, latency, error), what next.

    ``result``: ``delivered`` (2xx), ``retry`` (another attempt is scheduled) or
    ``failed`` (none is: the schedule ran out, the receiver answered 410, or the
    endpoint was disabled).
    """

    __tablename__ = "webhook_attempts"
    __table_args__ = (
        Index("ix_webhook_attempts_message", "message_id", "id"),
        Index("ix_webhook_attempts_at", "attempted_at"),
    )

    id: int | None = Field(
        default=None, sa_column=Column(BigIntegerKey, primary_key=True, autoincrement=True)
    )
    message_id: str = Field(sa_column=Column(String(40), nullable=False))
    endpoint_id: str = Field(sa_column=Column(String(40), nullable=False))
    attempted_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    result: str = Field(sa_column=Column(String(16), nullable=False))
    status_code: int | None = Field(default=None, sa_column=Column(Integer))
    latency_ms: int | None = Field(default=None, sa_column=Column(Integer))
    error: str | None = Field(default=None, sa_column=Column(Text))
    response_body: str | None = Field(default=None, sa_column=Column(Text))
