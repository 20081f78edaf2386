"""What the notification bridge follows: the flows and conversations of launches.

Flows launched within a recent window get their ``v2.flows.instances.flow`` topic; the
conversations of launches still running get their flow detail topics, and lose them
once the launch ends. Flows that report their own steps through data actions are left
out: their own reports win for every visit (storage.visits), and the platform's copy of
their start and end would only repeat them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, exists, select

from storage.engine import read_connection
from storage.store import Store
from storage.tables import Event, Launch
from storage.vocabulary import DATA_ACTION, UNFINISHED_STATES

launches = Launch.__table__  # type: ignore[attr-defined]
events = Event.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Tracked:
    """Flow ids and conversation ids to follow, each sorted."""

    flow_ids: tuple[str, ...]
    conversation_ids: tuple[str, ...]


def tracked(engine: Engine, since: datetime, reporting_since: datetime) -> Tracked:
    """Flows launched since ``since`` and conversations of launches not yet ended, but
    not those of flows that sent a data action callback since ``reporting_since``."""
    launched = select(launches.c.flow_id).where(launches.c.created_at >= since).distinct()
    launched_flows = launched.subquery()
    reporting = select(launched_flows.c.flow_id).where(
        exists().where(
            events.c.flow_id == launched_flows.c.flow_id,
            events.c.occurred_at >= reporting_since,
            events.c.source == DATA_ACTION,
        )
    )
    conversations = (
        select(launches.c.conversation_id, launches.c.flow_id)
        .where(
            launches.c.state.in_(UNFINISHED_STATES),
            launches.c.conversation_id.is_not(None),
        )
        .distinct()
        .order_by(launches.c.conversation_id)
    )
    with read_connection(engine) as connection:
        flow_ids = set(connection.execute(launched).scalars())
        reporting_ids = set(connection.execute(reporting).scalars())
        pairs = connection.execute(conversations).all()
    return Tracked(
        tuple(sorted(flow_ids - reporting_ids)),
        tuple(dict.fromkeys(c for c, flow in pairs if flow not in reporting_ids)),
    )


class TrackingStateStore(Store):
    """What to follow, for async callers."""

    async def tracked(self, since: datetime, reporting_since: datetime) -> Tracked:
        """See :func:`tracked`."""
        return await self._run(tracked, since, reporting_since)
