"""The workers that execute runs: claimed from the database, paced, retried when safe.

One :class:`RunWorker` per process. It claims queued runs as the org limiter has room
(several replicas share the queue: a run is claimed by one of them only), executes each
in its own task, holds a lease on it while it is in flight, and records the run's end.
At start and every lease period it recovers runs whose process died: those are marked
``unknown`` (the execution may have happened) unless they are idempotent, which are
queued again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy.engine import RowMapping

from receiver.actions import validation
from receiver.actions.catalog import ActionCatalog
from receiver.actions.errors import ActionNotFound, GenesysFailed
from receiver.actions.limiter import OrgLimiter
from receiver.actions.outcomes import Failure, classify, correlation_id, error_json
from receiver.actions.telemetry import ActionMetrics
from receiver.genesys.errors import GenesysError
from receiver.genesys.retry import RetryPolicy
from receiver.settings.actions import ActionsConfig
from storage.action_runs import FAILED, SUCCEEDED, ActionRunStore, Ending
from storage.errors import StorageError

log = logging.getLogger("flowtrack.actions")


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


class RunWorker:
    """Claims and executes this process's share of the runs."""

    def __init__(
        self,
        store: ActionRunStore,
        catalog: ActionCatalog,
        limiter: OrgLimiter,
        config: ActionsConfig,
        metrics: ActionMetrics,
    ) -> None:
        self.id = f"{uuid.uuid4().hex[:12]}"
        self._store = store
        self._catalog = catalog
        self._limiter = limiter
        self._config = config
        self._metrics = metrics
        self._wake = asyncio.Event()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._done: dict[str, asyncio.Future[RowMapping | None]] = {}
        self._loops: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._loops = [asyncio.create_task(self._claim_loop()), asyncio.create_task(self._leases())]

    async def stop(self, grace_seconds: float = 5.0) -> None:
        """Stop claiming; give executions in flight ``grace_seconds`` to end."""
        for loop in self._loops:
            loop.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        running = list(self._tasks.values())
        if running:
            _, late = await asyncio.wait(running, timeout=grace_seconds)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    def lease_until(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self._config.lease_seconds)

    def reserve(self) -> bool:
        """Take a slot to execute a run this process is about to insert as running."""
        return self._limiter.take()

    def release(self) -> None:
        self._limiter.release()

    def execute(self, row: RowMapping) -> None:
        """Execute a run this worker holds (a reserved slot), in the background."""
        self._done.setdefault(row["id"], asyncio.get_running_loop().create_future())
        self._tasks[row["id"]] = asyncio.create_task(self._execute(row))

    def refused(self, action_id: str, problems: int) -> None:
        """A run request was refused by validation: logged and counted."""
        self._metrics.refused(action_id)
        log.info(
            "action %s: input refused (%d problem(s)), nothing sent",
            action_id,
            problems,
            extra={"action": "actions.input_refused", "action_id": action_id, "problems": problems},
        )

    def finished_elsewhere(self, row: RowMapping) -> None:
        """A run ended without an execution (cancelled, answered from the cache)."""
        self._metrics.finished(row)

    def wake(self) -> None:
        """A run was queued: look for it now rather than at the next poll."""
        self._wake.set()

    def executes(self, run_id: str) -> bool:
        """Whether this process is executing ``run_id`` right now."""
        return run_id in self._done

    async def wait(self, run_id: str, seconds: float) -> RowMapping | None:
        """The run once this process has finished it (None: not kept, or not within
        ``seconds``); for a run executed elsewhere, a poll interval's pause, then None."""
        done = self._done.get(run_id)
        if done is None:
            await asyncio.sleep(min(seconds, self._config.poll_seconds))
            return None
        with contextlib.suppress(TimeoutError):
            # Shielded: one waiter giving up must not cancel the others' future.
            return await asyncio.wait_for(asyncio.shield(done), seconds)
        return None

    async def _claim_loop(self) -> None:
        next_recovery = 0.0
        while True:
            try:
                if time.monotonic() >= next_recovery:
                    await self._recover()
                    next_recovery = time.monotonic() + self._config.lease_seconds / 2
                room = self._limiter.free()
                if room <= 0:
                    await self._limiter.wait_for_room(self._config.poll_seconds)
                    continue
                self._wake.clear()
                claimed = await self._store.claim(
                    self.id, limit=room, now=datetime.now(UTC), lease_until=self.lease_until()
                )
                for row in claimed:
                    # Counted even if a request took the slot meanwhile: release follows.
                    self._limiter.take(force=True)
                    self.execute(row)
                if len(claimed) == room:
                    continue
            except StorageError as exc:
                log.warning(
                    "action runs: cannot claim (%s)", exc, extra={"action": "actions.claim_failed"}
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._config.poll_seconds)

    async def _recover(self) -> None:
        requeued, unknown = await self._store.recover(datetime.now(UTC))
        if requeued or unknown:
            log.warning(
                "action runs of a stopped process: %d queued again (idempotent), %d unknown",
                requeued,
                unknown,
                extra={"action": "actions.recovered", "requeued": requeued, "unknown": unknown},
            )
            self._metrics.recovered(requeued, unknown)

    async def _leases(self) -> None:
        while True:
            await asyncio.sleep(self._config.lease_seconds / 3)
            with contextlib.suppress(StorageError):
                await self._store.renew(self.id, list(self._tasks), self.lease_until())

    async def _execute(self, row: RowMapping) -> None:
        run_id = row["id"]
        finished: RowMapping | None = None
        try:
            ending = await self._outcome(row)
            finished = await self._store.finish(run_id, self.id, ending)
            if finished is None:
                log.warning(
                    "action run %s: no longer held by this worker; its outcome is not kept",
                    run_id,
                    extra={"action": "actions.lost_claim", "run_id": run_id},
                )
            else:
                self._metrics.finished(finished)
                log.info(
                    "action run %s %s",
                    run_id,
                    ending.state,
                    extra={
                        "action": "actions.run_finished",
                        "run_id": run_id,
                        "action_id": row["action_id"],
                        "state": ending.state,
                        "reason": ending.failure_reason,
                        "latency_ms": ending.latency_ms,
                    },
                )
        except Exception:
            log.exception(
                "action run %s failed unexpectedly", run_id, extra={"action": "actions.error"}
            )
        finally:
            self._limiter.release()
            self._tasks.pop(run_id, None)
            done = self._done.pop(run_id, None)
            if done is not None and not done.done():
                done.set_result(finished)
            self._wake.set()

    async def _outcome(self, row: RowMapping) -> Ending:
        try:
            action = await self._catalog.action(row["action_id"])
        except ActionNotFound as exc:
            return Ending(
                FAILED, datetime.now(UTC), "not_found", error=_json({"message": exc.message})
            )
        except GenesysFailed as exc:
            cause = exc.__cause__
            if not isinstance(cause, GenesysError):  # always chained by the catalog
                raise
            failure = classify(cause)
            return Ending(
                failure.state,
                datetime.now(UTC),
                failure.reason,
                error=_json(error_json(cause, failure)),
            )
        genesys = self._catalog.genesys
        body = orjson.loads(row["input"])
        timeout = action.timeout_seconds + self._config.timeout_margin_seconds
        policy = RetryPolicy.from_config(genesys.config, random.random)
        call = genesys.actions.test if row["dry_run"] else genesys.actions.execute
        attempts: list[dict[str, Any]] = []
        began = time.monotonic()
        while True:
            started_at, sent = datetime.now(UTC), time.monotonic()
            attempt: dict[str, Any] = {"number": len(attempts) + 1, "startedAt": _at(started_at)}
            attempts.append(attempt)
            try:
                result = await call(row["action_id"], body, timeout_seconds=timeout)
            except GenesysError as exc:
                failure = classify(exc)
                attempt.update(
                    latencyMs=_ms(sent),
                    status=exc.http_status,
                    outcome=failure.reason,
                    errorCode=failure.error_codes[0] if failure.error_codes else exc.genesys_code,
                    correlationId=correlation_id(exc),
                )
                if failure.reason == "validation":
                    self._catalog.forget(row["action_id"])
                delay = self._retry_delay(policy, exc, failure, row, len(attempts), began)
                if delay is None:
                    return self._failed(exc, failure, attempts, action.version, sent)
                attempt["retryInMs"] = round(delay * 1000, 1)
                self._metrics.retried(failure.reason)
                await asyncio.sleep(delay)
                continue
            latency = _ms(sent)
            attempt.update(latencyMs=latency, status=200, outcome="succeeded")
            attempt["correlationId"] = result.correlation_id
            return self._succeeded(
                row,
                action.success_schema,
                result.body,
                result.correlation_id,
                attempts,
                action.version,
                latency,
            )

    def _retry_delay(
        self,
        policy: RetryPolicy,
        error: GenesysError,
        failure: Failure,
        row: RowMapping,
        attempt: int,
        began: float,
    ) -> float | None:
        if failure.not_executed:
            if failure.reason == "rate_limited":
                delay = policy.rate_limited_delay(error.retry_after, attempt)
            else:
                delay = policy.backoff(attempt)
        elif failure.transient and row["idempotent"]:
            delay = policy.backoff(attempt)
        else:
            return None
        if delay is None or not policy.allows(attempt, time.monotonic() - began, delay):
            return None
        return delay

    def _failed(
        self,
        error: GenesysError,
        failure: Failure,
        attempts: list[dict[str, Any]],
        version: int | None,
        sent: float,
    ) -> Ending:
        return Ending(
            failure.state,
            datetime.now(UTC),
            failure.reason,
            error=_json(error_json(error, failure)),
            attempts=_json(attempts),
            correlation_id=correlation_id(error),
            latency_ms=_ms(sent),
            action_version=version,
        )

    def _succeeded(
        self,
        row: RowMapping,
        success_schema: dict[str, Any],
        body: Any,
        correlation: str | None,
        attempts: list[dict[str, Any]],
        version: int | None,
        latency: float,
    ) -> Ending:
        at = datetime.now(UTC)
        common: dict[str, Any] = {
            "attempts": _json(attempts),
            "correlation_id": correlation,
            "latency_ms": latency,
            "action_version": version,
        }
        if row["dry_run"]:
            # A TestExecutionResult: its steps are kept; its own success decides the state.
            result = body if isinstance(body, dict) else {}
            passed = result.get("success") is True
            return Ending(
                SUCCEEDED if passed else FAILED,
                at,
                None if passed else "test_failed",
                output=_json(result.get("finalResult")) if passed else None,
                error=None if passed else _json(result.get("error")),
                steps=_json(result.get("operations") or []),
                **common,
            )
        problems = validation.problems(success_schema, body)
        return Ending(
            SUCCEEDED,
            at,
            output=_json(body),
            output_problems=_json(problems) if problems else None,
            **common,
        )


def _ms(since: float) -> float:
    return round((time.monotonic() - since) * 1000, 2)


def _at(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
