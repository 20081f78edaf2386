"""The rollup tables: flow statistics kept per time bucket, advanced from the events.

storage.rollups maintains them; storage.flowstats and storage.flows read them. Every
aggregate table is keyed by flow, ``grain`` and ``bucket`` first: ``h`` rows hold one
hour (``bucket`` is the hour's start in epoch seconds), ``d`` rows one UTC day, and the
one ``t`` row (bucket 0) all time, so a window costs its days plus the hours at its two
ends, and all time costs one row per node.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Index, Integer, String, Text
from sqlmodel import Field, SQLModel

from storage.columns import UTCDateTime
from storage.tables import Launch


def _key(length: int = 128) -> Column[str]:
    return Column(String(length), primary_key=True)


def _grain() -> Column[str]:
    return Column(String(1), primary_key=True)


def _bucket() -> Column[int]:
    return Column(BigInteger, primary_key=True, autoincrement=False)


def _count() -> Column[int]:
    return Column(BigInteger, nullable=False, server_default="0")


class RollupState(SQLModel, table=True):
    """Where the rollups stand: the one row ``name = 'events'``.

    ``position`` is the highest event id taken; ``gaps`` the ids below it not seen yet
    (a transaction still open when the batch was read), as JSON; ``launches_at`` the
    ``updated_at`` up to which launches were taken. ``version`` grows with every batch:
    a batch commits only if it is still the version it started from.
    """

    __tablename__ = "rollup_state"

    name: str = Field(sa_column=_key(32))
    version: int = Field(sa_column=Column(BigInteger, nullable=False))
    position: int = Field(sa_column=Column(BigInteger, nullable=False))
    gaps: str = Field(sa_column=Column(Text, nullable=False))
    launches_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    advanced_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class RollupRun(SQLModel, table=True):
    """One run (launch, else conversation, else execution, within a flow): the facts of
    its events taken so far, as JSON (storage.rollup_runs), from which what it added to
    the aggregates is computed again, to be taken back when it gets an event."""

    __tablename__ = "rollup_runs"
    __table_args__ = (Index("ix_rollup_runs_last_at", "last_at"),)

    flow_id: str = Field(sa_column=_key())
    run_key: str = Field(sa_column=_key(160))
    last_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    facts: str = Field(sa_column=Column(Text, nullable=False))


class RollupNode(SQLModel, table=True):
    """Per node and bucket: entries, exits, errors, visits still open. The row of node
    ``''`` is the flow's own: runs (by their first event) and events."""

    __tablename__ = "rollup_nodes"

    flow_id: str = Field(sa_column=_key())
    grain: str = Field(sa_column=_grain())
    bucket: int = Field(sa_column=_bucket())
    node_id: str = Field(sa_column=_key(255))
    entries: int = Field(sa_column=_count())
    exits: int = Field(sa_column=_count())
    errors: int = Field(sa_column=_count())
    open_visits: int = Field(sa_column=_count())
    runs: int = Field(sa_column=_count())
    events: int = Field(sa_column=_count())


class RollupDuration(SQLModel, table=True):
    """Visits per node, bucket (of the exit) and duration bin (storage.rollup_runs)."""

    __tablename__ = "rollup_durations"

    flow_id: str = Field(sa_column=_key())
    grain: str = Field(sa_column=_grain())
    bucket: int = Field(sa_column=_bucket())
    node_id: str = Field(sa_column=_key(255))
    bin: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    visits: int = Field(sa_column=_count())


class RollupEdge(SQLModel, table=True):
    """Transitions from one node to the next entered, per bucket (of the second enter)."""

    __tablename__ = "rollup_edges"

    flow_id: str = Field(sa_column=_key())
    grain: str = Field(sa_column=_grain())
    bucket: int = Field(sa_column=_bucket())
    from_node_id: str = Field(sa_column=_key(255))
    to_node_id: str = Field(sa_column=_key(255))
    transitions: int = Field(sa_column=_count())


class RollupPath(SQLModel, table=True):
    """Runs per path (the entered nodes in order), per bucket of the run's first event;
    ``path_key`` is a digest of ``path``."""

    __tablename__ = "rollup_paths"

    flow_id: str = Field(sa_column=_key())
    grain: str = Field(sa_column=_grain())
    bucket: int = Field(sa_column=_bucket())
    path_key: str = Field(sa_column=_key(32))
    path: str = Field(sa_column=Column(Text, nullable=False))
    runs: int = Field(sa_column=_count())


class RollupLaunch(SQLModel, table=True):
    """Launches per state and bucket of ``createdAt``; ``node_id`` is where a timed-out
    launch was (``''`` for any other state)."""

    __tablename__ = "rollup_launches"

    flow_id: str = Field(sa_column=_key())
    grain: str = Field(sa_column=_grain())
    bucket: int = Field(sa_column=_bucket())
    state: str = Field(sa_column=_key(32))
    node_id: str = Field(sa_column=_key(255))
    node_name: str | None = Field(default=None, sa_column=Column(String(255)))
    launches: int = Field(sa_column=_count())


class RollupLaunchSeen(SQLModel, table=True):
    """What each launch last added to ``rollup_launches``, to take back when it changes."""

    __tablename__ = "rollup_launch_seen"

    launch_id: str = Field(sa_column=_key(64))
    flow_id: str = Field(sa_column=Column(String(128), nullable=False))
    bucket: int = Field(sa_column=Column(BigInteger, nullable=False))
    state: str = Field(sa_column=Column(String(32), nullable=False))
    node_id: str = Field(sa_column=Column(String(255), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))


class RollupFlow(SQLModel, table=True):
    """Each flow seen, and when it was last seen."""

    __tablename__ = "rollup_flows"

    flow_id: str = Field(sa_column=_key())
    last_event_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    last_launch_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class RollupFlowNode(SQLModel, table=True):
    """A node of a flow, with the type and name its events last gave it."""

    __tablename__ = "rollup_flow_nodes"

    flow_id: str = Field(sa_column=_key())
    node_id: str = Field(sa_column=_key(255))
    node_type: str | None = Field(default=None, sa_column=Column(String(255)))
    node_name: str | None = Field(default=None, sa_column=Column(String(255)))


# Launches are taken in the order of their last change: the advancer reads from here.
Index("ix_launches_updated", Launch.__table__.c.updated_at, Launch.__table__.c.id)  # type: ignore[attr-defined]
