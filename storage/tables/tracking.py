"""Tables of tracking flows without editing them (#18): the notification channel lease,
the gaps in the push, and where each launch's execution history stands."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Integer, String, Text
from sqlmodel import Field, SQLModel

from storage.columns import BigIntegerKey, UTCDateTime


class TrackingLease(SQLModel, table=True):
    """Who holds a singleton job (the notification bridge), until when, and its status.

    A row per job name; the holder renews ``expires_at`` and may write ``status`` (a JSON
    document: channels, topics) for the other replicas to serve. An expired row is free.
    """

    __tablename__ = "tracking_lease"

    name: str = Field(sa_column=Column(String(64), primary_key=True))
    holder: str = Field(sa_column=Column(String(128), nullable=False))
    acquired_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    status: str | None = Field(default=None, sa_column=Column(Text))
    status_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class TrackingGap(SQLModel, table=True):
    """An interval in which no healthy notification socket listened (messages were lost).

    ``ended_at`` None: still open. ``backfill`` says what became of the window:
    ``pending``, ``pulled``, ``not_needed`` (nothing was tracked), ``no_pull`` (the
    history pull is off: the gap stays a gap).
    """

    __tablename__ = "tracking_gaps"
    __table_args__ = (Index("ix_tracking_gaps_started", "started_at", "id"),)

    id: int | None = Field(
        default=None, sa_column=Column(BigIntegerKey, primary_key=True, autoincrement=True)
    )
    started_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    ended_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    reason: str = Field(sa_column=Column(String(64), nullable=False))
    holder: str = Field(sa_column=Column(String(128), nullable=False))
    backfill: str = Field(sa_column=Column(String(32), nullable=False))


class HistoryPull(SQLModel, table=True):
    """Where one launch's execution history stands (receiver.history_pull).

    ``state``: ``pending`` (not found yet; tried again at ``next_at``), ``pulled``,
    ``ambiguous`` (several runs could be it: none is taken), ``expired`` (past the
    platform's 10-day retention without history).
    """

    __tablename__ = "history_pulls"
    __table_args__ = (Index("ix_history_pulls_state_next", "state", "next_at"),)

    launch_id: str = Field(sa_column=Column(String(64), primary_key=True))
    state: str = Field(sa_column=Column(String(32), nullable=False))
    instance_id: str | None = Field(default=None, sa_column=Column(String(128)))
    attempts: int = Field(sa_column=Column(Integer, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    next_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    detail: str | None = Field(default=None, sa_column=Column(Text))
