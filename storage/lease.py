"""A lease row: which one process, among every replica on one database, runs a job.

The holder renews ``expires_at`` well before it passes; a process that dies (even by
``kill -9``) simply stops renewing, and once the lease has expired the next process to
try takes it. Unlike an advisory lock, nothing stays open between renewals (no
transaction idle for hours on PostgreSQL), and it works the same on SQLite. Time is the
processes' own UTC clock: replicas are expected to keep their clocks in sync (NTP); a
skew eats into the lease's margin.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert, or_, select, update
from sqlalchemy.engine import Connection

from storage.engine import read_connection, write_transaction
from storage.errors import DuplicateKey
from storage.store import Store
from storage.tables.tracking import TrackingLease

lease = TrackingLease.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class LeaseState:
    """A lease as stored: its holder, until when, and the status the holder published."""

    name: str
    holder: str
    acquired_at: datetime
    expires_at: datetime
    status: str | None
    status_at: datetime | None


def take(engine: Engine, name: str, holder: str, now: datetime, seconds: float) -> bool:
    """Take or renew ``name`` for ``holder`` until ``now + seconds``; False: someone else
    holds it and it has not expired."""
    until = now + timedelta(seconds=seconds)
    with write_transaction(engine) as connection:
        if _claim(connection, name, holder, now, until):
            return True
    try:
        with write_transaction(engine) as connection:
            connection.execute(
                insert(lease).values(name=name, holder=holder, acquired_at=now, expires_at=until)
            )
        return True
    except DuplicateKey:
        # Another process inserted it first: one more claim settles who has it.
        with write_transaction(engine) as connection:
            return _claim(connection, name, holder, now, until)


def _claim(connection: Connection, name: str, holder: str, now: datetime, until: datetime) -> bool:
    current = connection.execute(
        select(lease.c.holder).where(lease.c.name == name)
    ).scalar_one_or_none()
    if current is None:
        return False
    values: dict[str, object] = {"holder": holder, "expires_at": until}
    if current != holder:
        values["acquired_at"] = now
        values["status"] = None
        values["status_at"] = None
    # The condition is checked again in the UPDATE: two claimants cannot both win.
    claimed = connection.execute(
        update(lease)
        .where(lease.c.name == name, or_(lease.c.holder == holder, lease.c.expires_at <= now))
        .values(**values)
    )
    return claimed.rowcount == 1


def release(engine: Engine, name: str, holder: str) -> None:
    """Give ``name`` up now (a clean shutdown): the next process need not wait."""
    with write_transaction(engine) as connection:
        connection.execute(
            update(lease)
            .where(lease.c.name == name, lease.c.holder == holder)
            .values(expires_at=datetime(1970, 1, 1, tzinfo=UTC))
        )


def publish(engine: Engine, name: str, holder: str, status: str, now: datetime) -> bool:
    """Store the holder's status document; False when ``holder`` no longer holds it."""
    with write_transaction(engine) as connection:
        done = connection.execute(
            update(lease)
            .where(lease.c.name == name, lease.c.holder == holder)
            .values(status=status, status_at=now)
        )
    return done.rowcount == 1


def state(engine: Engine, name: str) -> LeaseState | None:
    """The lease ``name`` as stored (None: never taken)."""
    with read_connection(engine) as connection:
        row = connection.execute(select(lease).where(lease.c.name == name)).mappings().first()
    return None if row is None else LeaseState(**row)


class LeaseStore(Store):
    """Leases, for async callers."""

    async def take(self, name: str, holder: str, now: datetime, seconds: float) -> bool:
        """Take or renew the lease (see :func:`take`)."""
        return await self._run(take, name, holder, now, seconds)

    async def release(self, name: str, holder: str) -> None:
        """Give the lease up (see :func:`release`)."""
        await self._run(release, name, holder)

    async def publish(self, name: str, holder: str, status: str, now: datetime) -> bool:
        """Store the holder's status (see :func:`publish`)."""
        return await self._run(publish, name, holder, status, now)

    async def state(self, name: str) -> LeaseState | None:
        """The lease as stored (see :func:`state`)."""
        return await self._run(state, name)
