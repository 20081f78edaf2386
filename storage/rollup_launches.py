"""Launches in the rollups: per flow, bucket of ``createdAt``, state (and stuck node).

A launch changes state in place, so each batch reads the launches whose ``updated_at``
is at or after the launch watermark less :data:`OVERLAP` (a launch updated by a
transaction that committed late still has its turn), keeps the ones whose state or node
differs from what ``rollup_launch_seen`` says they added, and moves their count from
the old key to the new one. The watermark becomes the newest ``updated_at`` there was
when the batch began, once no changed launch is left behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, case, delete, func, insert, or_, select

from storage.rollup_merge import Delta
from storage.rollup_runs import hour_of
from storage.tables import Launch
from storage.tables.rollups import RollupLaunchSeen
from storage.vocabulary import TIMED_OUT

launches = Launch.__table__  # type: ignore[attr-defined]
seen = RollupLaunchSeen.__table__  # type: ignore[attr-defined]

#: How far back each batch looks again for launch changes committed late.
OVERLAP = timedelta(seconds=10)


@dataclass
class Changed:
    """Launches whose count must move, and the watermark to move to."""

    rows: Sequence[Any]
    at: datetime | None
    more: bool


def changed_launches(connection: Connection, since: datetime | None, limit: int) -> Changed:
    """Launches changed since ``since`` (less the overlap) that the rollups count
    elsewhere, at most ``limit``."""
    newest = connection.execute(select(func.max(launches.c.updated_at))).scalar()
    if newest is None:
        return Changed([], since, False)
    stuck_node = _stuck_node(launches.c.state, launches.c.current_node_id)
    statement = (
        select(
            launches.c.id,
            launches.c.flow_id,
            launches.c.state,
            launches.c.created_at,
            stuck_node.label("node_id"),
            launches.c.current_node_name,
            seen.c.flow_id.label("seen_flow_id"),
            seen.c.bucket.label("seen_bucket"),
            seen.c.state.label("seen_state"),
            seen.c.node_id.label("seen_node_id"),
        )
        .select_from(launches.outerjoin(seen, seen.c.launch_id == launches.c.id))
        .where(
            or_(
                seen.c.launch_id.is_(None),
                seen.c.state != launches.c.state,
                seen.c.node_id != stuck_node,
            )
        )
        .order_by(launches.c.updated_at, launches.c.id)
        .limit(limit)
    )
    if since is not None:
        statement = statement.where(launches.c.updated_at >= since - OVERLAP)
    rows = connection.execute(statement).all()
    more = len(rows) == limit
    return Changed(rows, since if more else newest, more)


def count_launches(connection: Connection, rows: Sequence[Any], delta: Delta) -> None:
    """Move each changed launch's count into ``delta`` and remember what it added."""
    if not rows:
        return
    for row in rows:
        if row.seen_state is not None:
            delta.launch(
                row.seen_flow_id, row.seen_bucket, row.seen_state, row.seen_node_id, None, -1
            )
        hour = hour_of(row.created_at.timestamp())
        name = row.current_node_name if row.node_id else None
        delta.launch(row.flow_id, hour, row.state, row.node_id, name, 1)
        latest = delta.last_launch_at.get(row.flow_id)
        if latest is None or row.created_at > latest:
            delta.last_launch_at[row.flow_id] = row.created_at
    ids = sorted({row.id for row in rows})
    for start in range(0, len(ids), 400):
        connection.execute(delete(seen).where(seen.c.launch_id.in_(ids[start : start + 400])))
    connection.execute(
        insert(seen),
        [
            {
                "launch_id": row.id,
                "flow_id": row.flow_id,
                "bucket": hour_of(row.created_at.timestamp()),
                "state": row.state,
                "node_id": row.node_id,
                "created_at": row.created_at,
            }
            for row in {row.id: row for row in rows}.values()
        ],
    )


def _stuck_node(state: Any, node_id: Any) -> Any:
    # Only a timed-out launch is counted with its node: where it was stuck.
    return case((state == TIMED_OUT, func.coalesce(node_id, "")), else_="")
