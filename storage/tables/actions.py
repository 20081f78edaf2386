"""The data action runs table (#13): one row per execution flowtrack was asked for."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Column, Float, Index, Integer, String, Text, text
from sqlmodel import Field, SQLModel

from storage.columns import UTCDateTime


class ActionRun(SQLModel, table=True):
    """A data action run: what was asked, each attempt, and how it ended.

    ``state``: queued → running → succeeded | failed | timed_out | cancelled | unknown.
    ``claimed_by``/``lease_until`` say which worker holds a running run and until when;
    a run whose lease ran out was orphaned by its process (recovery marks it unknown).
    ``attempts`` is a JSON list of the tries made; ``input``, ``output``, ``error``,
    ``coercions``, ``output_problems`` and ``steps`` are JSON text.
    """

    __tablename__ = "action_runs"
    __table_args__ = (
        # Workers claim the oldest queued runs; recovery finds expired running ones.
        Index("ix_action_runs_state_created", "state", "created_at"),
        Index("ix_action_runs_created", "created_at", "id"),
        Index("ix_action_runs_action_created", "action_id", "created_at"),
        Index(
            "ix_action_runs_cache_key",
            "cache_key",
            "finished_at",
            sqlite_where=text("cache_key IS NOT NULL"),
            postgresql_where=text("cache_key IS NOT NULL"),
        ),
    )

    id: str = Field(sa_column=Column(String(64), primary_key=True))
    action_id: str = Field(sa_column=Column(String(255), nullable=False))
    action_version: int | None = Field(default=None, sa_column=Column(Integer))
    state: str = Field(sa_column=Column(String(16), nullable=False))
    failure_reason: str | None = Field(default=None, sa_column=Column(String(32)))
    input: str = Field(sa_column=Column(Text, nullable=False))
    output: str | None = Field(default=None, sa_column=Column(Text))
    output_problems: str | None = Field(default=None, sa_column=Column(Text))
    error: str | None = Field(default=None, sa_column=Column(Text))
    coercions: str | None = Field(default=None, sa_column=Column(Text))
    steps: str | None = Field(default=None, sa_column=Column(Text))
    dry_run: bool = Field(sa_column=Column(Boolean, nullable=False))
    idempotent: bool = Field(sa_column=Column(Boolean, nullable=False))
    timeout_seconds: int | None = Field(default=None, sa_column=Column(Integer))
    cache_ttl_seconds: int | None = Field(default=None, sa_column=Column(Integer))
    cache_key: str | None = Field(default=None, sa_column=Column(String(64)))
    cached_from: str | None = Field(default=None, sa_column=Column(String(64)))
    idempotency_key: str | None = Field(default=None, sa_column=Column(String(255), unique=True))
    request_fingerprint: str | None = Field(default=None, sa_column=Column(String(64)))
    requested_by: str | None = Field(default=None, sa_column=Column(String(100)))
    attempts: str = Field(sa_column=Column(Text, nullable=False))
    correlation_id: str | None = Field(default=None, sa_column=Column(String(128)))
    latency_ms: float | None = Field(default=None, sa_column=Column(Float))
    claimed_by: str | None = Field(default=None, sa_column=Column(String(128)))
    lease_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    started_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
