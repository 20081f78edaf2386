"""A lock shared by every flowtrack process on one database, held across awaits.

For work that must not run twice at once across replicas but is not itself a database
transaction (e.g. registering with Genesys). PostgreSQL: a transaction-level advisory
lock on ``key``, polled with ``pg_try_advisory_xact_lock`` in a transaction held open, so
it goes away with the transaction even if the process dies. SQLite: a write transaction
(``BEGIN IMMEDIATE``), i.e. the database's single write lock, whatever ``key`` is; other
writers, ingest included, wait until the block ends, so keep it short.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager

from sqlalchemy import Engine, text

from storage.engine import is_sqlite, write_transaction
from storage.errors import LockTimeout, StorageUnavailable

log = logging.getLogger("flowtrack.locks")

_POLL_SECONDS = 0.05


@asynccontextmanager
async def database_lock(
    engine: Engine, key: int, *, name: str, wait_seconds: float = 120.0
) -> AsyncIterator[None]:
    """Hold the lock ``key`` (a 64-bit constant) for the block.

    Waits up to ``wait_seconds`` for another holder, then raises :class:`LockTimeout`.
    ``name`` says what the lock is for, in logs and errors.
    """
    held = await _acquire(engine, key, name, wait_seconds)
    try:
        yield
    finally:
        await asyncio.to_thread(held.close)


async def _acquire(engine: Engine, key: int, name: str, wait_seconds: float) -> ExitStack:
    deadline = time.monotonic() + wait_seconds
    waiting = False
    while True:
        # Database calls block: they run in a thread so the event loop keeps serving.
        attempt = asyncio.ensure_future(asyncio.to_thread(_try_lock, engine, key))
        try:
            held = await asyncio.shield(attempt)
        except asyncio.CancelledError:
            # The thread carries on regardless: release whatever it ends up holding.
            attempt.add_done_callback(_release_abandoned)
            raise
        except StorageUnavailable as exc:
            # SQLite gave up after its busy timeout while another process held the lock.
            if not (is_sqlite(engine) and "database is locked" in str(exc)):
                raise
            held = None
        if held is not None:
            return held
        if time.monotonic() >= deadline:
            raise LockTimeout(
                f"another flowtrack process has held the {name} lock for over "
                f"{wait_seconds:.0f} s; try again later"
            )
        if not waiting:
            waiting = True
            log.info(
                "waiting for the %s lock", name, extra={"action": "dblock.waiting", "lock": name}
            )
        await asyncio.sleep(_POLL_SECONDS)


def _try_lock(engine: Engine, key: int) -> ExitStack | None:
    """The open transaction holding the lock, or None when another process has it."""
    held = None
    with ExitStack() as stack:
        connection = stack.enter_context(write_transaction(engine))
        statement = text("SELECT pg_try_advisory_xact_lock(:key)")
        if is_sqlite(engine) or connection.execute(statement, {"key": key}).scalar():
            held = stack.pop_all()
    return held


def _release_abandoned(attempt: asyncio.Future[ExitStack | None]) -> None:
    if not attempt.cancelled() and attempt.exception() is None:
        held = attempt.result()
        if held is not None:
            held.close()
