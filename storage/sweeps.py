"""What the sweep needs from the database: claiming due launches, releasing them.

A claim is a lease (``claimed_by``, ``claimed_until``): several processes sweeping one
database never act on the same launch at once, and a claim whose process died simply
expires. On PostgreSQL the claiming SELECT also skips rows another sweeper is claiming
right now (FOR UPDATE SKIP LOCKED), so sweepers never queue behind each other; SQLite
serialises claims with its write lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, or_, select, update
from sqlalchemy.engine import RowMapping

from storage import outbox
from storage.engine import read_connection, write_transaction
from storage.launches import launches
from storage.store import Store
from storage.vocabulary import TERMINATION_FAILED


def claim_due(
    engine: Engine, *, now: datetime, owner: str, lease_seconds: int, limit: int
) -> Sequence[RowMapping]:
    """Claim up to ``limit`` launches whose due time has passed, oldest due first."""
    until = now + timedelta(seconds=lease_seconds)
    with write_transaction(engine) as connection:
        ids = (
            connection.execute(
                select(launches.c.id)
                .where(
                    launches.c.due_at <= now,
                    or_(launches.c.claimed_until.is_(None), launches.c.claimed_until < now),
                )
                .order_by(launches.c.due_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            .scalars()
            .all()
        )
        if not ids:
            return []
        connection.execute(
            update(launches)
            .where(launches.c.id.in_(ids))
            .values(claimed_by=owner, claimed_until=until)
        )
        return connection.execute(select(launches).where(launches.c.id.in_(ids))).mappings().all()


def claim_one(
    engine: Engine, launch_id: str, *, now: datetime, owner: str, lease_seconds: int
) -> RowMapping | None:
    """Claim one launch now (on request), unless another process holds it."""
    until = now + timedelta(seconds=lease_seconds)
    with write_transaction(engine) as connection:
        claimed = connection.execute(
            update(launches)
            .where(
                launches.c.id == launch_id,
                or_(
                    launches.c.claimed_until.is_(None),
                    launches.c.claimed_until < now,
                    launches.c.claimed_by == owner,
                ),
            )
            .values(claimed_by=owner, claimed_until=until)
        )
        if not claimed.rowcount:
            return None
        return (
            connection.execute(select(launches).where(launches.c.id == launch_id)).mappings().one()
        )


def release(engine: Engine, /, launch_id: str, owner: str, **values: Any) -> None:
    """Give a claimed launch back, updating ``values`` (e.g. the next due time)."""
    with write_transaction(engine) as connection:
        connection.execute(
            update(launches)
            .where(launches.c.id == launch_id, launches.c.claimed_by == owner)
            .values(claimed_by=None, claimed_until=None, **values)
        )


def give_up(engine: Engine, launch_id: str, owner: str, *, error: str, now: datetime) -> None:
    """Termination kept failing: the launch shows termination_failed with the last error."""
    this = launches.c.id == launch_id
    with write_transaction(engine) as connection:
        was = connection.execute(select(launches.c.state).where(this)).scalar()
        gave_up = connection.execute(
            update(launches)
            .where(this, launches.c.claimed_by == owner)
            .values(
                state=TERMINATION_FAILED,
                state_reason=error,
                last_error=error,
                due_at=None,
                updated_at=now,
                claimed_by=None,
                claimed_until=None,
            )
        )
        if gave_up.rowcount and was != TERMINATION_FAILED:  # the webhook outbox, same transaction
            row = connection.execute(select(launches).where(this)).mappings().one()
            outbox.launch_ended(connection, row, now)


def stopped_keys(engine: Engine, *, since: datetime) -> list[tuple[str, str | None, str | None]]:
    """(launch, execution, conversation) ids of launches told to stop since ``since``."""
    with read_connection(engine) as connection:
        rows = connection.execute(
            select(launches.c.id, launches.c.flow_execution_id, launches.c.conversation_id).where(
                launches.c.stop_requested_at >= since
            )
        ).all()
    return [(row[0], row[1], row[2]) for row in rows]


class SweepStore(Store):
    """The sweep's claims and stop list, for async callers (queries in a worker thread)."""

    async def claim_due(
        self, *, now: datetime, owner: str, lease_seconds: int, limit: int
    ) -> Sequence[RowMapping]:
        """Claim up to ``limit`` launches whose due time has passed, oldest due first."""
        return await self._run(
            claim_due, now=now, owner=owner, lease_seconds=lease_seconds, limit=limit
        )

    async def claim_one(
        self, launch_id: str, *, now: datetime, owner: str, lease_seconds: int
    ) -> RowMapping | None:
        """Claim one launch now (on request), unless another process holds it."""
        return await self._run(
            claim_one, launch_id, now=now, owner=owner, lease_seconds=lease_seconds
        )

    async def release(self, launch_id: str, owner: str, **values: Any) -> None:
        """Give a claimed launch back, updating ``values`` (e.g. the next due time)."""
        await self._run(release, launch_id, owner, **values)

    async def give_up(self, launch_id: str, owner: str, *, error: str, now: datetime) -> None:
        """Termination kept failing: the launch shows termination_failed."""
        await self._run(give_up, launch_id, owner, error=error, now=now)

    async def stopped_keys(self, *, since: datetime) -> list[tuple[str, str | None, str | None]]:
        """(launch, execution, conversation) ids of launches told to stop since ``since``."""
        return await self._run(stopped_keys, since=since)
