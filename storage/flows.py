"""The flows flowtrack has seen, in events or launches, with what it holds of each.

:class:`FlowStore` is their async face: the list, whether a flow is known, and a flow's
statistics (storage.flowstats), its passes run side by side.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, exists, func, select

from storage.engine import read_connection
from storage.flowruns import RUN_SHARDS, count_runs, merge_runs
from storage.flowstats import FlowStats, assemble, count_launches, sample_durations
from storage.store import Store
from storage.tables import Event, Launch

events = Event.__table__  # type: ignore[attr-defined]
launches = Launch.__table__  # type: ignore[attr-defined]


@dataclass
class FlowSummary:
    """One flow: its events and launches (by state), and when each was last seen."""

    flow_id: str
    events: int = 0
    launches: int = 0
    launches_by_state: dict[str, int] = field(default_factory=dict)
    last_event_at: datetime | None = None
    last_launch_at: datetime | None = None


def list_flows(engine: Engine, *, after: str | None = None, limit: int = 100) -> list[FlowSummary]:
    """Flows in flow id order, after the cursor's flow id."""
    with read_connection(engine) as connection:
        seen = sorted(
            set(_flow_ids(connection, events, after, limit))
            | set(_flow_ids(connection, launches, after, limit))
        )[:limit]
        if not seen:
            return []
        found = {flow_id: FlowSummary(flow_id) for flow_id in seen}
        counted = connection.execute(
            select(events.c.flow_id, func.count(), func.max(events.c.occurred_at))
            .where(events.c.flow_id.in_(seen))
            .group_by(events.c.flow_id)
        )
        for flow_id, count, last in counted:
            found[flow_id].events = count
            found[flow_id].last_event_at = last
        by_state = connection.execute(
            select(
                launches.c.flow_id, launches.c.state, func.count(), func.max(launches.c.created_at)
            )
            .where(launches.c.flow_id.in_(seen))
            .group_by(launches.c.flow_id, launches.c.state)
        )
        for flow_id, state, count, last in by_state:
            summary = found[flow_id]
            summary.launches += count
            summary.launches_by_state[state] = count
            if summary.last_launch_at is None or last > summary.last_launch_at:
                summary.last_launch_at = last
    return [found[flow_id] for flow_id in seen]


def flow_known(engine: Engine, flow_id: str) -> bool:
    """True when some event or launch names the flow."""
    with read_connection(engine) as connection:
        statement = select(
            exists().where(events.c.flow_id == flow_id)
            | exists().where(launches.c.flow_id == flow_id)
        )
        return bool(connection.execute(statement).scalar())


def _flow_ids(connection: Connection, table: Table, after: str | None, limit: int) -> list[str]:
    # A loose index scan: each step seeks the next flow id in the flow index instead of
    # reading every row of every flow in between.
    column = table.c.flow_id

    def next_after(previous: Any) -> Any:
        found = select(column).where(column.is_not(None)).order_by(column).limit(1)
        if previous is not None:
            found = found.where(column > previous)
        return found.scalar_subquery()

    walk: Any = select(next_after(after).label("flow_id")).cte("flow_ids", recursive=True)
    walk = walk.union_all(select(next_after(walk.c.flow_id)).where(walk.c.flow_id.is_not(None)))
    statement = select(walk.c.flow_id).where(walk.c.flow_id.is_not(None)).limit(limit)
    return [row[0] for row in connection.execute(statement)]


class FlowStore(Store):
    """The flows, for async callers (queries in worker threads)."""

    async def known(self, flow_id: str) -> bool:
        """True when some event or launch names the flow."""
        return await self._run(flow_known, flow_id)

    async def stats(
        self, flow_id: str, *, since: datetime | None = None, until: datetime | None = None
    ) -> FlowStats:
        """Statistics of ``flow_id`` over [since, until) (storage.flowstats).

        The passes are independent (the first in shards), each in its own thread and
        connection: the database works on them side by side.
        """
        shards, durations, launched = await asyncio.gather(
            asyncio.gather(
                *(self._run(count_runs, flow_id, since, until, shard) for shard in RUN_SHARDS)
            ),
            self._run(sample_durations, flow_id, since, until),
            self._run(count_launches, flow_id, since, until),
        )
        return assemble(flow_id, merge_runs(shards), durations, launched)

    # Last: in the class body after it, ``list`` names this method.
    async def list(self, *, after: str | None = None, limit: int = 100) -> list[FlowSummary]:
        """Flows in flow id order, after the cursor's flow id."""
        return await self._run(list_flows, after=after, limit=limit)
