"""Data action runs: what ``/api/v1/actions/{id}/runs`` and ``/api/v1/action-runs`` do.

A run request is checked against the action's contract first (coerced when asked):
a refused input costs no execution. A cacheable run may be answered from an earlier
success; otherwise the run is recorded and executed — at once by this process when
the org limiter has room, else by whichever worker claims it first.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy.engine import RowMapping

from receiver.actions import validation
from receiver.actions.catalog import ActionCatalog
from receiver.actions.coercion import coerce
from receiver.actions.errors import (
    IdempotencyKeyReused,
    InvalidActionInput,
    RunNotCancellable,
    RunNotFound,
)
from receiver.actions.runner import RunWorker
from receiver.fingerprints import request_fingerprint
from receiver.launches.ids import new_launch_id
from receiver.settings.actions import ActionsConfig
from storage.action_reads import RunStats
from storage.action_runs import (
    FINAL_STATES,
    QUEUED,
    SUCCEEDED,
    ActionRunStore,
    Ending,
    NewRun,
)


@dataclass(frozen=True)
class RunOrder:
    """A run request, validated for shape (not yet against the contract)."""

    action_id: str
    input: dict[str, Any]
    coerce: bool = False
    dry_run: bool = False
    cache_ttl_seconds: int | None = None
    idempotent: bool = False

    @property
    def fingerprint(self) -> str:
        """A digest of what is asked: the same run request gives the same one."""
        return request_fingerprint(dataclasses.asdict(self))


def cache_key(action_id: str, version: int | None, value: Any) -> str:
    """Action, version and canonical input, digested: equal inputs share a cache entry."""
    return request_fingerprint([action_id, version, value])


class ActionRuns:
    """Creates, finds, waits for and cancels runs."""

    def __init__(
        self,
        store: ActionRunStore,
        catalog: ActionCatalog,
        worker: RunWorker,
        config: ActionsConfig,
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.worker = worker
        self._config = config

    async def create(
        self, order: RunOrder, idempotency_key: str | None, requested_by: str | None
    ) -> tuple[RowMapping, bool]:
        """Record (and start) a run; returns it and whether this call created it.

        Raises InvalidActionInput with every problem when the input breaks the contract,
        IdempotencyKeyReused when the key was used for another request.
        """
        action = await self.catalog.action(order.action_id)
        value: Any = order.input
        applied: list[dict[str, Any]] = []
        if order.coerce:
            value, applied = coerce(action.input_schema, value)
        found = validation.problems(action.input_schema, value)
        if found:
            self.worker.refused(order.action_id, len(found))
            listed = "; ".join(f"{p['field'] or '(input)'}: {p['problem']}" for p in found)
            raise InvalidActionInput(
                f"the input does not match the action's input schema: {listed}",
                detail=found,
            )
        now = datetime.now(UTC)
        ttl = order.cache_ttl_seconds
        if ttl is None:
            ttl = self._config.cache_ttl.get(order.action_id)
        key = None if order.dry_run or not ttl else cache_key(action.id, action.version, value)
        new = NewRun(
            id=new_launch_id(),
            action_id=order.action_id,
            action_version=action.version,
            input=orjson.dumps(value).decode(),
            dry_run=order.dry_run,
            idempotent=order.idempotent,
            timeout_seconds=action.timeout_seconds,
            cache_ttl_seconds=ttl or None,
            cache_key=key,
            coercions=orjson.dumps(applied).decode() if applied else None,
            idempotency_key=idempotency_key,
            request_fingerprint=order.fingerprint,
            requested_by=requested_by,
            created_at=now,
        )
        if key is not None and ttl:
            hit = await self.store.cached(key, now - timedelta(seconds=ttl))
            if hit is not None:
                ending = Ending(
                    SUCCEEDED,
                    datetime.now(UTC),
                    output=hit["output"],
                    output_problems=hit["output_problems"],
                    correlation_id=hit["correlation_id"],
                    latency_ms=0.0,
                    action_version=hit["action_version"],
                    cached_from=hit["id"],
                )
                row, created = await self.store.insert_cached(new, ending)
                if created:
                    self.worker.finished_elsewhere(row)
                return self._replayed(row, created, order, idempotency_key)
        if self.worker.reserve():
            try:
                row, created = await self.store.insert(
                    new, claimed_by=self.worker.id, lease_until=self.worker.lease_until()
                )
            except BaseException:
                self.worker.release()
                raise
            if created:
                self.worker.execute(row)
            else:
                self.worker.release()
        else:
            row, created = await self.store.insert(new)
            if created:
                self.worker.wake()
        return self._replayed(row, created, order, idempotency_key)

    def _replayed(
        self, row: RowMapping, created: bool, order: RunOrder, key: str | None
    ) -> tuple[RowMapping, bool]:
        if not created and row["request_fingerprint"] != order.fingerprint:
            raise IdempotencyKeyReused(
                f"Idempotency-Key {key!r} was used for another run request (run {row['id']}); "
                "use a new key for a new run",
                detail={"runId": row["id"]},
            )
        return row, created

    async def get(self, run_id: str) -> RowMapping:
        row = await self.store.get(run_id)
        if row is None:
            raise RunNotFound(f"no action run has the id {run_id!r}")
        return row

    async def wait(self, run_id: str, seconds: float) -> RowMapping:
        """The run once final, or as it stands after ``seconds``."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left > 0 and self.worker.executes(run_id):
                # Executed here: the worker hands over the final row, no read needed.
                finished = await self.worker.wait(run_id, left)
                if finished is not None:
                    return finished
                left = deadline - time.monotonic()
            row = await self.get(run_id)
            if row["state"] in FINAL_STATES or left <= 0:
                return row
            await self.worker.wait(run_id, left)

    async def cancel(self, run_id: str) -> RowMapping:
        """Cancel a queued run (RunNotCancellable once it was sent or has ended)."""
        row, cancelled = await self.store.cancel(run_id, datetime.now(UTC))
        if row is None:
            raise RunNotFound(f"no action run has the id {run_id!r}")
        if cancelled:
            self.worker.finished_elsewhere(row)
            return row
        if row["state"] == QUEUED:  # claimed between the two reads: it is being sent
            raise RunNotCancellable("the run was just claimed for execution")
        if row["state"] in FINAL_STATES:
            raise RunNotCancellable(
                f"the run has already ended ({row['state']})", detail={"state": row["state"]}
            )
        raise RunNotCancellable(
            "the run's execution was already sent to Genesys and cannot be recalled: "
            "Genesys has no way to stop a data action once it runs",
            detail={"state": row["state"]},
        )

    async def stats(
        self, action_id: str, since: datetime | None, until: datetime | None
    ) -> RunStats:
        return await self.store.stats(action_id, since, until)
