"""Data action runs over the REST API: ``/api/v1/action-runs`` (one, a list, cancel).

The run's representation (:class:`ActionRun`) is declared here once; the runs endpoint
of ``receiver.api.actions`` answers with it too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import orjson
from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from receiver.actions.errors import RunNotCancellable, RunNotFound
from receiver.actions.outcomes import FAILURE_REASONS
from receiver.api.audit import audited, refusals_audited
from receiver.resources import services
from receiver.web.models import RequestModel, Timestamp, WireModel, one_of, raw_json, render
from receiver.web.models import timestamp as timestamp_text
from receiver.web.operations import (
    INVALID_QUERY,
    STORAGE_UNAVAILABLE,
    Failure,
    Param,
    Reply,
    operation,
    page_of,
    query_params,
    string,
)
from receiver.web.pagination import Query, page
from receiver.web.responses import JSONResponse
from storage.action_reads import RunFilter
from storage.action_runs import RUN_STATES
from storage.audit import ACTION_RUN_CANCEL, COMPLETED


class Attempt(WireModel):
    """One try at executing the run."""

    number: int
    started_at: str = Field(description="When it was sent (ISO-8601 UTC).")
    latency_ms: float | None = Field(None, description="How long Genesys took to answer.")
    status: int | None = Field(None, description="Genesys's HTTP status (null: no answer).")
    outcome: str = Field(description="`succeeded`, or the failure reason of this try.")
    error_code: str | None = Field(None, description="The first `details[].errorCode`.")
    correlation_id: str | None = Field(None, description="Genesys's correlation id.")
    retry_in_ms: float | None = Field(None, description="The wait before the next try.")


class Coercion(WireModel):
    """A conversion applied to the input because the run asked for `coerce`."""

    field: str = Field(description="Path of the field (`ids/0`).")
    from_: str = Field(alias="from", description="The JSON type given.")
    to: str = Field(description="The JSON type the schema asks for.")
    value: Any = Field(description="The value as given.")


class ActionRun(WireModel):
    """A data action run: what was asked, each attempt, and how it ended."""

    id: str
    action_id: str
    action_version: int | None = Field(description="The action's version executed.")
    state: str = one_of(
        RUN_STATES,
        "`queued` → `running` → `succeeded` | `failed` | `timed_out` | `cancelled` | "
        "`unknown` (its process stopped while the execution was in flight: it may or may "
        "not have run).",
    )
    failure_reason: str | None = one_of(FAILURE_REASONS, "Why it failed.", nullable=True)
    input: Annotated[Any, raw_json("The input sent (after coercion).")]
    output: Annotated[Any, raw_json("The action's output (success only).", nullable=True)]
    output_problems: Annotated[
        Any,
        raw_json("How the output breaks the success schema (flagged, not fatal).", nullable=True),
    ]
    error: Annotated[Any, raw_json("What Genesys answered when it failed.", nullable=True)]
    coercions: list[Coercion] = Field(description="Every conversion applied to the input.")
    steps: Annotated[Any, raw_json("A dry run's `TestExecutionResult.operations`.", nullable=True)]
    attempts: list[Attempt]
    dry_run: bool
    idempotent: bool = Field(description="Whether 5xx and timeouts may be retried.")
    timeout_seconds: int | None = Field(description="The action's own timeout.")
    cache_ttl_seconds: int | None
    cached: bool = Field(description="Answered from an earlier run's result.")
    cached_from: str | None = Field(description="The run whose result this is.")
    requested_by: str | None = Field(description="The API key's name that asked.")
    correlation_id: str | None = Field(description="Genesys's correlation id (last attempt).")
    latency_ms: float | None
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None

    @classmethod
    def of(cls, row: Any) -> ActionRun:
        """The run of a stored row (its JSON texts written out as they are)."""
        return cls.model_construct(
            id=row["id"],
            action_id=row["action_id"],
            action_version=row["action_version"],
            state=row["state"],
            failure_reason=row["failure_reason"],
            input=orjson.Fragment(row["input"]),
            output=_fragment(row["output"]),
            output_problems=_fragment(row["output_problems"]),
            error=_fragment(row["error"]),
            coercions=[Coercion.model_validate(c) for c in orjson.loads(row["coercions"] or "[]")],
            steps=_fragment(row["steps"]),
            attempts=[Attempt.model_validate(a) for a in orjson.loads(row["attempts"])],
            dry_run=row["dry_run"],
            idempotent=row["idempotent"],
            timeout_seconds=row["timeout_seconds"],
            cache_ttl_seconds=row["cache_ttl_seconds"],
            cached=row["cached_from"] is not None,
            cached_from=row["cached_from"],
            requested_by=row["requested_by"],
            correlation_id=row["correlation_id"],
            latency_ms=row["latency_ms"],
            created_at=row["created_at"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
        )


def _fragment(text: str | None) -> orjson.Fragment | None:
    return None if text is None else orjson.Fragment(text)


def run_json(row: Any) -> dict[str, Any]:
    """A run as the API shows it."""
    return render(ActionRun.of(row))


class RunQuery(RequestModel):
    """The filters of ``GET /api/v1/action-runs``."""

    action_id: str | None = Field(None, description="Only runs of this action.")
    state: str | None = one_of(RUN_STATES, "Only runs in this state.", nullable=True)
    since: datetime | None = Field(None, description="Only runs created at or after this time.")
    until: datetime | None = Field(None, description="Only runs created before this time.")
    limit: int = 0
    cursor: str | None = None


RUN_ID = Param("run_id", "path", string(minLength=1), "The run id.")


@operation(
    "getActionRun",
    "One data action run",
    tag="actions",
    access="read",
    parameters=(RUN_ID,),
    replies={200: Reply("The run.", ActionRun)},
    failures=(Failure.of(RunNotFound), STORAGE_UNAVAILABLE),
)
async def get_run(request: Request) -> Response:
    """``GET /api/v1/action-runs/{run_id}``."""
    row = await services(request).action_runs.get(request.path_params["run_id"])
    return JSONResponse(run_json(row))


@operation(
    "listActionRuns",
    "Data action runs, newest first",
    tag="actions",
    access="read",
    parameters=query_params(RunQuery),
    replies={200: Reply("A page of runs.", page_of(ActionRun))},
    failures=(INVALID_QUERY, STORAGE_UNAVAILABLE),
)
async def get_runs(request: Request) -> Response:
    """``GET /api/v1/action-runs``: newest first; filters actionId, state, since, until."""
    found = services(request)
    query = Query.of(request.query_params, RunQuery)
    where = query.filter(RunFilter)
    limit = query.values.limit
    after = query.position_cursor(str)
    query.check()
    rows = await found.action_runs.store.list(where, after=after, limit=limit + 1)
    return JSONResponse(
        page(
            rows,
            limit,
            run_json,
            lambda last: [timestamp_text(last["created_at"]), last["id"]],
            query,
        )
    )


@operation(
    "cancelActionRun",
    "Cancel a queued data action run",
    tag="actions",
    access="write",
    description="Only a run still `queued` can be cancelled. Once its execution was sent, "
    "Genesys offers no way to stop it: the answer is a 409 saying so.",
    parameters=(RUN_ID,),
    replies={200: Reply("The run, now `cancelled`.", ActionRun)},
    failures=(Failure.of(RunNotFound), Failure.of(RunNotCancellable), STORAGE_UNAVAILABLE),
)
async def cancel_run(request: Request) -> Response:
    """``POST /api/v1/action-runs/{run_id}/cancel``."""
    run_id = request.path_params["run_id"]
    async with refusals_audited(request, ACTION_RUN_CANCEL, run_id):
        row = await services(request).action_runs.cancel(run_id)
    await audited(request, ACTION_RUN_CANCEL, run_id, COMPLETED)
    return JSONResponse(run_json(row))
