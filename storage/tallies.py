"""Launch tallies for monitoring: how many launches are in each state, how the ended
ones ended per flow, and how long they took — counted where the data is, in two
grouped statements, so a scrape costs two index scans whatever the table's size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, Float, case, cast, func, select

from storage.engine import read_connection
from storage.store import Store
from storage.tables import Launch

launches = Launch.__table__  # type: ignore[attr-defined]

#: Upper bounds (seconds) of the launch duration buckets: a flow runs for seconds to hours.
DURATION_BUCKETS: tuple[float, ...] = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200)


@dataclass
class Durations:
    """Ended launches of one state: cumulative counts per bucket bound, sum and count."""

    buckets: list[int]
    total_seconds: float
    count: int


@dataclass
class LaunchTally:
    """What :func:`tally_launches` found."""

    by_state: dict[str, int] = field(default_factory=dict)
    #: (flow id, state, count) of ended launches; flows beyond the cap are ``None``.
    outcomes: list[tuple[str | None, str, int]] = field(default_factory=list)
    durations: dict[str, Durations] = field(default_factory=dict)


def tally_launches(engine: Engine, *, max_flows: int) -> LaunchTally:
    """Count launches by state, ended ones by flow and state, and bucket their durations.

    Only the ``max_flows`` flows with the most ended launches are named; the rest are
    summed under ``None`` (a label set must stay bounded).
    """
    tally = LaunchTally()
    with read_connection(engine) as connection:
        states = select(launches.c.state, func.count()).group_by(launches.c.state)
        tally.by_state = {state: count for state, count in connection.execute(states).all()}
        ended = launches.c.ended_at.is_not(None)
        per_flow = (
            select(launches.c.flow_id, launches.c.state, func.count())
            .where(ended)
            .group_by(launches.c.flow_id, launches.c.state)
        )
        rows: Sequence[Any] = connection.execute(per_flow).all()
        tally.outcomes = _capped(rows, max_flows)
        seconds = _seconds(connection)
        columns = [func.sum(case((seconds <= bound, 1), else_=0)) for bound in DURATION_BUCKETS]
        durations = (
            select(launches.c.state, func.count(), func.sum(seconds), *columns)
            .where(ended)
            .group_by(launches.c.state)
        )
        for state, count, total, *buckets in connection.execute(durations).all():
            tally.durations[state] = Durations(
                [int(bucket or 0) for bucket in buckets], float(total or 0.0), count
            )
    return tally


def _capped(rows: Sequence[Any], max_flows: int) -> list[tuple[str | None, str, int]]:
    per_flow: dict[str, int] = {}
    for flow_id, _state, count in rows:
        per_flow[flow_id] = per_flow.get(flow_id, 0) + count
    named = set(sorted(per_flow, key=lambda flow: (-per_flow[flow], flow))[:max_flows])
    merged: dict[tuple[str | None, str], int] = {}
    for flow_id, state, count in rows:
        key = (flow_id if flow_id in named else None, state)
        merged[key] = merged.get(key, 0) + count
    ordered = sorted(merged.items(), key=lambda item: (item[0][0] is None, str(item[0])))
    return [(flow, state, count) for (flow, state), count in ordered]


def _seconds(connection: Connection) -> Any:
    """``ended_at - created_at`` in seconds, in the connection's dialect."""
    if connection.dialect.name == "postgresql":
        return cast(func.extract("epoch", launches.c.ended_at - launches.c.created_at), Float)
    # Stored as naive UTC text (storage.columns); julianday is exact to ~0.04 ms.
    return (func.julianday(launches.c.ended_at) - func.julianday(launches.c.created_at)) * 86400.0


class TallyStore(Store):
    """The async face of :func:`tally_launches`."""

    async def launches(self, *, max_flows: int) -> LaunchTally:
        """:func:`tally_launches`, in a worker thread."""
        return await self._run(tally_launches, max_flows=max_flows)
