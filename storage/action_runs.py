"""Data action runs: recording, claiming, finishing, listing and counting them.

A run is inserted ``queued`` (or already ``running`` when the inserting process executes
it at once), claimed by a worker, and reaches exactly one final state through
:func:`_reach_final_state` — the one write every ending goes through (finish, cancel,
recovery, a cache hit), so whatever must happen when a run ends is added there once.

Claims are leases: a worker holds ``lease_until`` in the future while it executes; a
``running`` run whose lease ran out belongs to a process that died. Claiming uses
``FOR UPDATE SKIP LOCKED`` on PostgreSQL so replicas never take the same run; SQLite's
write transaction is already exclusive.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.engine import RowMapping

from storage import outbox
from storage.action_reads import RunFilter, RunStats, list_runs, run_stats
from storage.engine import is_sqlite, read_connection, write_transaction
from storage.errors import DuplicateKey
from storage.store import Store
from storage.tables import ActionRun

runs = ActionRun.__table__  # type: ignore[attr-defined]

QUEUED = "queued"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
TIMED_OUT = "timed_out"
CANCELLED = "cancelled"
UNKNOWN = "unknown"
RUN_STATES = (QUEUED, RUNNING, SUCCEEDED, FAILED, TIMED_OUT, CANCELLED, UNKNOWN)
FINAL_STATES = (SUCCEEDED, FAILED, TIMED_OUT, CANCELLED, UNKNOWN)


@dataclass(frozen=True)
class NewRun:
    """A run as asked for, before any execution. JSON fields are already serialised."""

    id: str
    action_id: str
    action_version: int | None
    input: str
    dry_run: bool
    idempotent: bool
    timeout_seconds: int | None
    cache_ttl_seconds: int | None
    cache_key: str | None
    coercions: str | None
    idempotency_key: str | None
    request_fingerprint: str | None
    requested_by: str | None
    created_at: datetime


@dataclass(frozen=True)
class Ending:
    """How a run ended: its final state and everything learnt on the way."""

    state: str
    at: datetime
    failure_reason: str | None = None
    output: str | None = None
    output_problems: str | None = None
    error: str | None = None
    steps: str | None = None
    attempts: str | None = None
    correlation_id: str | None = None
    latency_ms: float | None = None
    action_version: int | None = None
    cached_from: str | None = None

    def values(self) -> dict[str, Any]:
        chosen = {
            "state": self.state,
            "finished_at": self.at,
            "failure_reason": self.failure_reason,
            "output": self.output,
            "output_problems": self.output_problems,
            "error": self.error,
            "steps": self.steps,
            "correlation_id": self.correlation_id,
            "latency_ms": self.latency_ms,
            "cached_from": self.cached_from,
            # claimed_by stays: which worker executed the run.
            "lease_until": None,
        }
        if self.attempts is not None:
            chosen["attempts"] = self.attempts
        if self.action_version is not None:
            chosen["action_version"] = self.action_version
        return chosen


def _reach_final_state(
    connection: Connection,
    run_id: str,
    ending: Ending,
    from_states: Sequence[str],
    *,
    held_by: str | None = None,
) -> RowMapping | None:
    """Move one run from one of ``from_states`` (and claimed by ``held_by``, when given)
    to its final state, in the caller's transaction; the row as it now is, or None when
    it was not in those states.

    Every run's ending goes through here (and only here).
    """
    moving = update(runs).where(runs.c.id == run_id, runs.c.state.in_(from_states))
    if held_by is not None:
        moving = moving.where(runs.c.claimed_by == held_by)
    moved = connection.execute(moving.values(**ending.values()).returning(*runs.c))
    row = moved.mappings().first()
    if row is None:
        return None
    outbox.action_run_ended(connection, row, ending.at)  # the webhook outbox, same transaction
    return row


def insert_run(
    engine: Engine,
    new: NewRun,
    *,
    claimed_by: str | None = None,
    lease_until: datetime | None = None,
) -> tuple[RowMapping, bool]:
    """Record a run: ``queued``, or ``running`` already claimed when ``claimed_by`` is given.

    With a known idempotency key nothing is inserted: returns the original run and False.
    """
    values: dict[str, Any] = {**new.__dict__, "attempts": "[]"}
    if claimed_by is None:
        values["state"] = QUEUED
    else:
        values.update(
            state=RUNNING, claimed_by=claimed_by, lease_until=lease_until, started_at=new.created_at
        )
    try:
        with write_transaction(engine) as connection:
            # RETURNING: the row as stored without a second round trip (SQLite 3.35+).
            created = (
                connection.execute(insert(runs).values(**values).returning(*runs.c))
                .mappings()
                .one()
            )
    except DuplicateKey:
        if new.idempotency_key is None:
            raise
        existing = _one(engine, runs.c.idempotency_key == new.idempotency_key)
        if existing is None:  # the conflicting row vanished (retention)
            raise
        return existing, False
    return created, True


def insert_cached_run(engine: Engine, new: NewRun, ending: Ending) -> tuple[RowMapping, bool]:
    """Record a run answered from the cache: created and finished in one transaction."""
    values: dict[str, Any] = {**new.__dict__, "attempts": "[]", "state": RUNNING}
    values["started_at"] = new.created_at
    try:
        with write_transaction(engine) as connection:
            connection.execute(insert(runs).values(**values))
            row = _reach_final_state(connection, new.id, ending, (RUNNING,))
    except DuplicateKey:
        if new.idempotency_key is None:
            raise
        existing = _one(engine, runs.c.idempotency_key == new.idempotency_key)
        if existing is None:
            raise
        return existing, False
    assert row is not None
    return row, True


def claim_runs(
    engine: Engine, worker: str, *, limit: int, now: datetime, lease_until: datetime
) -> Sequence[RowMapping]:
    """Take up to ``limit`` of the oldest queued runs for ``worker`` (now ``running``)."""
    if limit <= 0:
        return []
    oldest = (
        select(runs.c.id)
        .where(runs.c.state == QUEUED)
        .order_by(runs.c.created_at, runs.c.id)
        .limit(limit)
    )
    if not is_sqlite(engine):
        oldest = oldest.with_for_update(skip_locked=True)
    with write_transaction(engine) as connection:
        ids = list(connection.execute(oldest).scalars())
        if not ids:
            return []
        connection.execute(
            update(runs)
            .where(runs.c.id.in_(ids), runs.c.state == QUEUED)
            .values(state=RUNNING, claimed_by=worker, lease_until=lease_until, started_at=now)
        )
        claimed = select(runs).where(runs.c.id.in_(ids), runs.c.claimed_by == worker)
        return connection.execute(claimed.order_by(runs.c.created_at)).mappings().all()


def renew_leases(engine: Engine, worker: str, run_ids: Sequence[str], until: datetime) -> int:
    """Extend ``worker``'s leases on its running runs; returns how many it still holds."""
    if not run_ids:
        return 0
    with write_transaction(engine) as connection:
        result = connection.execute(
            update(runs)
            .where(runs.c.id.in_(run_ids), runs.c.claimed_by == worker, runs.c.state == RUNNING)
            .values(lease_until=until)
        )
    return int(result.rowcount)


def finish_run(engine: Engine, run_id: str, worker: str, ending: Ending) -> RowMapping | None:
    """End a run ``worker`` is executing; None when it no longer holds it."""
    with write_transaction(engine) as connection:
        return _reach_final_state(connection, run_id, ending, (RUNNING,), held_by=worker)


def cancel_run(engine: Engine, run_id: str, at: datetime) -> tuple[RowMapping | None, bool]:
    """Cancel a queued run; returns the run (None: no such run) and whether it was cancelled."""
    with write_transaction(engine) as connection:
        ending = Ending(state=CANCELLED, at=at, failure_reason="cancelled")
        row = _reach_final_state(connection, run_id, ending, (QUEUED,))
        if row is not None:
            return row, True
    return get_run(engine, run_id), False


def recover_orphans(engine: Engine, now: datetime, *, limit: int = 100) -> tuple[int, int]:
    """Runs whose worker died (``running``, lease expired): an idempotent one is queued
    again; any other may have been executed, so it ends ``unknown``.

    Returns (requeued, marked unknown).
    """
    orphaned = (
        select(runs.c.id, runs.c.idempotent)
        .where(runs.c.state == RUNNING, runs.c.lease_until < now)
        .limit(limit)
    )
    if not is_sqlite(engine):
        orphaned = orphaned.with_for_update(skip_locked=True)
    requeued = unknown = 0
    with write_transaction(engine) as connection:
        for run_id, idempotent in connection.execute(orphaned).all():
            if idempotent:
                connection.execute(
                    update(runs)
                    .where(runs.c.id == run_id)
                    .values(state=QUEUED, claimed_by=None, lease_until=None, started_at=None)
                )
                requeued += 1
                continue
            ending = Ending(
                state=UNKNOWN,
                at=now,
                failure_reason="interrupted",
                error='{"message": "the process executing this run stopped while the '
                'execution was in flight: it may or may not have been executed"}',
            )
            if _reach_final_state(connection, run_id, ending, (RUNNING,)) is not None:
                unknown += 1
    return requeued, unknown


def get_run(engine: Engine, run_id: str) -> RowMapping | None:
    """One run by id."""
    return _one(engine, runs.c.id == run_id)


def cached_result(engine: Engine, cache_key: str, since: datetime) -> RowMapping | None:
    """The newest executed (not itself cached) successful run with this key since ``since``."""
    statement = (
        select(runs)
        .where(
            runs.c.cache_key == cache_key,
            runs.c.finished_at >= since,
            runs.c.state == SUCCEEDED,
            runs.c.cached_from.is_(None),
            runs.c.dry_run.is_(False),
        )
        .order_by(runs.c.finished_at.desc())
        .limit(1)
    )
    with read_connection(engine) as connection:
        return connection.execute(statement).mappings().first()


def delete_old_runs(engine: Engine, *, cutoff: datetime, limit: int) -> int:
    """Delete up to ``limit`` runs that ended before ``cutoff`` (retention)."""
    doomed = (
        select(runs.c.id)
        .where(
            runs.c.state.in_(FINAL_STATES),
            # finished_at >= created_at, and (state, created_at) is indexed.
            runs.c.created_at < cutoff,
            runs.c.finished_at < cutoff,
        )
        .limit(limit)
    )
    if not is_sqlite(engine):
        doomed = doomed.with_for_update(skip_locked=True)
    with write_transaction(engine) as connection:
        result = connection.execute(delete(runs).where(runs.c.id.in_(doomed)))
    return int(result.rowcount)


def _one(engine: Engine, where: Any) -> RowMapping | None:
    with read_connection(engine) as connection:
        return connection.execute(select(runs).where(where)).mappings().first()


class ActionRunStore(Store):
    """The runs, for async callers: each query in a worker thread.

    On SQLite (one writer at a time) this process's run writes queue on an asyncio lock,
    in order, instead of in SQLite's busy handler, whose growing sleeps let later writers
    overtake and can starve one past the busy timeout under many concurrent runs.
    """

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self._writes: AbstractAsyncContextManager[Any] = (
            asyncio.Lock() if is_sqlite(engine) else contextlib.nullcontext()
        )

    async def insert(
        self, new: NewRun, *, claimed_by: str | None = None, lease_until: datetime | None = None
    ) -> tuple[RowMapping, bool]:
        async with self._writes:
            return await self._run(insert_run, new, claimed_by=claimed_by, lease_until=lease_until)

    async def insert_cached(self, new: NewRun, ending: Ending) -> tuple[RowMapping, bool]:
        async with self._writes:
            return await self._run(insert_cached_run, new, ending)

    async def claim(
        self, worker: str, *, limit: int, now: datetime, lease_until: datetime
    ) -> Sequence[RowMapping]:
        async with self._writes:
            return await self._run(
                claim_runs, worker, limit=limit, now=now, lease_until=lease_until
            )

    async def renew(self, worker: str, run_ids: Sequence[str], until: datetime) -> int:
        async with self._writes:
            return await self._run(renew_leases, worker, run_ids, until)

    async def finish(self, run_id: str, worker: str, ending: Ending) -> RowMapping | None:
        async with self._writes:
            return await self._run(finish_run, run_id, worker, ending)

    async def cancel(self, run_id: str, at: datetime) -> tuple[RowMapping | None, bool]:
        async with self._writes:
            return await self._run(cancel_run, run_id, at)

    async def recover(self, now: datetime) -> tuple[int, int]:
        async with self._writes:
            return await self._run(recover_orphans, now)

    async def get(self, run_id: str) -> RowMapping | None:
        return await self._run(get_run, run_id)

    async def cached(self, cache_key: str, since: datetime) -> RowMapping | None:
        return await self._run(cached_result, cache_key, since)

    async def list(
        self, where: RunFilter, *, after: tuple[datetime, str] | None = None, limit: int = 100
    ) -> Sequence[RowMapping]:
        return await self._run(list_runs, where, after=after, limit=limit)

    async def stats(
        self, action_id: str, since: datetime | None, until: datetime | None
    ) -> RunStats:
        return await self._run(run_stats, action_id, since, until)
