"""The flows flowtrack has seen, in events or launches, with what it holds of each.

:class:`FlowStore` is their async face: the list, whether a flow is known, and a flow's
statistics (storage.flowstats). The list and the statistics are read from the rollups
(storage.rollups), so they cost the same however many events there are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, exists, func, select

from storage.engine import read_connection
from storage.flowstats import FlowStats, flow_stats
from storage.rollup_merge import TOTAL, flows_table, launches_table, nodes_table
from storage.rollups import catch_up
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
    """Flows in flow id order, after the cursor's flow id, from the rollups: one page of
    ``rollup_flows`` and the all-time rows of its flows."""
    with read_connection(engine) as connection:
        page = select(flows_table).order_by(flows_table.c.flow_id).limit(limit)
        if after is not None:
            page = page.where(flows_table.c.flow_id > after)
        found = {
            row.flow_id: FlowSummary(
                row.flow_id, last_event_at=row.last_event_at, last_launch_at=row.last_launch_at
            )
            for row in connection.execute(page)
        }
        if not found:
            return []
        seen = sorted(found)
        counted = connection.execute(
            select(nodes_table.c.flow_id, nodes_table.c.events).where(
                nodes_table.c.flow_id.in_(seen),
                nodes_table.c.grain == TOTAL,
                nodes_table.c.bucket == 0,
                nodes_table.c.node_id == "",
            )
        )
        for flow_id, count in counted:
            found[flow_id].events = int(count)
        by_state = connection.execute(
            select(
                launches_table.c.flow_id,
                launches_table.c.state,
                func.sum(launches_table.c.launches),
            )
            .where(
                launches_table.c.flow_id.in_(seen),
                launches_table.c.grain == TOTAL,
                launches_table.c.bucket == 0,
            )
            .group_by(launches_table.c.flow_id, launches_table.c.state)
        )
        for flow_id, state, count in by_state:
            if count:
                found[flow_id].launches += int(count)
                found[flow_id].launches_by_state[state] = int(count)
    return [found[flow_id] for flow_id in seen]


def flow_known(engine: Engine, flow_id: str) -> bool:
    """True when some event or launch names the flow."""
    with read_connection(engine) as connection:
        statement = select(
            exists().where(events.c.flow_id == flow_id)
            | exists().where(launches.c.flow_id == flow_id)
        )
        return bool(connection.execute(statement).scalar())


class FlowStore(Store):
    """The flows, for async callers (queries in worker threads).

    Reads come from the rollups. When they are only a little behind the events (at
    most ``catch_up_events``, as when the service is quiet), a read advances them first
    itself, so it reflects every event committed before it; under a heavy ingest it
    answers at once from the rollups as they stand (the job keeps them seconds behind).
    """

    def __init__(self, engine: Engine, *, catch_up_events: int = 2000) -> None:
        super().__init__(engine)
        self.catch_up_events = catch_up_events

    async def known(self, flow_id: str) -> bool:
        """True when some event or launch names the flow."""
        return await self._run(flow_known, flow_id)

    async def stats(
        self, flow_id: str, *, since: datetime | None = None, until: datetime | None = None
    ) -> FlowStats:
        """Statistics of ``flow_id`` over [since, until), rounded to the hour
        (storage.flowstats)."""
        await self._run(catch_up, most=self.catch_up_events)
        return await self._run(flow_stats, flow_id, since=since, until=until)

    # Last: in the class body after it, ``list`` names this method.
    async def list(self, *, after: str | None = None, limit: int = 100) -> list[FlowSummary]:
        """Flows in flow id order, after the cursor's flow id."""
        await self._run(catch_up, most=self.catch_up_events)
        return await self._run(list_flows, after=after, limit=limit)
