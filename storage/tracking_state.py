"""What the notification bridge follows: the flows and conversations of launches.

Flows launched within a recent window get their ``v2.flows.instances.flow`` topic; the
conversations of launches still running get their flow detail topics, and lose them
once the launch ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select

from storage.engine import read_connection
from storage.store import Store
from storage.tables import Launch
from storage.vocabulary import UNFINISHED_STATES

launches = Launch.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Tracked:
    """Flow ids and conversation ids to follow, each sorted."""

    flow_ids: tuple[str, ...]
    conversation_ids: tuple[str, ...]


def tracked(engine: Engine, since: datetime) -> Tracked:
    """Flows launched since ``since``; conversations of launches not yet ended."""
    flows = (
        select(launches.c.flow_id)
        .where(launches.c.created_at >= since)
        .distinct()
        .order_by(launches.c.flow_id)
    )
    conversations = (
        select(launches.c.conversation_id)
        .where(
            launches.c.state.in_(UNFINISHED_STATES),
            launches.c.conversation_id.is_not(None),
        )
        .distinct()
        .order_by(launches.c.conversation_id)
    )
    with read_connection(engine) as connection:
        flow_ids = tuple(connection.execute(flows).scalars())
        conversation_ids = tuple(connection.execute(conversations).scalars())
    return Tracked(flow_ids, conversation_ids)


class TrackingStateStore(Store):
    """What to follow, for async callers."""

    async def tracked(self, since: datetime) -> Tracked:
        """See :func:`tracked`."""
        return await self._run(tracked, since)
