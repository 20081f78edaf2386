"""The org's data actions over the REST API: ``/api/v1/actions`` (the list, one action,
its runs, its statistics)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, StrictBool, StrictInt, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from receiver.actions.errors import (
    ActionNotFound,
    ActionsUnavailable,
    GenesysFailed,
    IdempotencyKeyReused,
    InvalidActionInput,
    InvalidRunRequest,
)
from receiver.actions.service import RunOrder
from receiver.api.action_runs import ActionRun, run_json
from receiver.api.audit import audited
from receiver.api.bodies import MalformedJSON, UnsupportedMediaType, json_body
from receiver.genesys import DataAction
from receiver.resources import services
from receiver.web.access import identity_of
from receiver.web.models import RequestModel, WireModel, problems_of, raw_json, render
from receiver.web.operations import (
    INVALID_QUERY,
    PROBLEMS,
    STORAGE_UNAVAILABLE,
    Failure,
    Header,
    Param,
    Reply,
    operation,
    query_params,
    string,
)
from receiver.web.pagination import Query
from receiver.web.responses import JSONResponse
from storage.action_runs import FINAL_STATES
from storage.audit import ACTION_RUN, CREATED, REFUSED, REPLAYED

#: The longest ``Prefer: wait`` honoured: an action's own timeout (≤ 60 s) plus a margin.
MAX_WAIT_SECONDS = 65
_WAIT = re.compile(r"(?:^|[,;\s])wait\s*=\s*\"?(\d{1,6})\"?", re.IGNORECASE)
_DAY = 24 * 3600


class Action(WireModel):
    """A data action of the org."""

    id: str
    name: str | None
    category: str | None
    integration_id: str | None
    version: int | None
    timeout_seconds: int = Field(description="Its own execution timeout (1 to 60; 60 unset).")

    @classmethod
    def fields_of(cls, action: DataAction) -> dict[str, Any]:
        return {
            "id": action.id,
            "name": action.name,
            "category": action.category,
            "integration_id": action.integration_id,
            "version": action.version,
            "timeout_seconds": action.timeout_seconds,
        }


class ActionDetail(Action):
    """A data action with its contract's schemas."""

    input_schema: Annotated[Any, raw_json("`contract.input.inputSchema`.")]
    success_schema: Annotated[Any, raw_json("`contract.output.successSchema`.")]


class ActionList(WireModel):
    """The org's data actions that match."""

    items: list[Action]


class ActionQuery(RequestModel):
    """The filters of ``GET /api/v1/actions``."""

    name: str | None = Field(None, description="Only actions whose name contains this.")
    category: str | None = Field(None, description="Only actions of this category.")


class RunRequest(RequestModel):
    """What to execute, and how."""

    input: dict[str, Any] = Field(description="The action's input (its `inputSchema`).")
    coerce: StrictBool = Field(
        False,
        description="Convert input values to the types the schema asks for; each "
        "conversion is listed in the run.",
    )
    dry_run: StrictBool = Field(
        False, description="Use Genesys's `test` instead of `execute`; its steps are kept."
    )
    cache_ttl_seconds: Annotated[StrictInt, Field(ge=1, le=_DAY)] | None = Field(
        None, description="Reuse a success with the same input this recent (failures never are)."
    )
    idempotent: StrictBool = Field(
        False,
        description="The action may safely run twice: 5xx and timeouts are retried, and "
        "a run interrupted by a stopped process is executed again.",
    )


class LatencyMs(WireModel):
    """Latency of the runs sent to Genesys, in milliseconds (null: none)."""

    p50: float | None
    p95: float | None
    max: float | None


class ActionStats(WireModel):
    """Runs of one action in ``[since, until)``."""

    action_id: str
    runs: int
    by_state: dict[str, int]
    by_failure_reason: dict[str, int]
    latency_ms: LatencyMs
    success_rate: float | None = Field(description="Succeeded / finished (null: none finished).")
    cache_hits: int


class StatsQuery(RequestModel):
    """The window of ``GET /api/v1/actions/{actionId}/stats`` (runs by createdAt)."""

    since: datetime | None = Field(None, description="Only runs created at or after this time.")
    until: datetime | None = Field(None, description="Only runs created before this time.")


ACTION_ID = Param("action_id", "path", string(minLength=1), "The data action's id.")
GENESYS_FAILURES = (Failure.of(ActionsUnavailable), Failure.of(GenesysFailed))


@operation(
    "listActions",
    "The org's data actions",
    tag="actions",
    access="read",
    description="Read from Genesys (cached briefly), filtered by name and category.",
    parameters=query_params(ActionQuery),
    replies={200: Reply("The actions.", ActionList)},
    failures=(INVALID_QUERY, *GENESYS_FAILURES),
)
async def get_actions(request: Request) -> Response:
    """``GET /api/v1/actions?name=&category=``."""
    query = Query.of(request.query_params, ActionQuery)
    query.check()
    found = await services(request).action_runs.catalog.actions(
        name=query.values.name, category=query.values.category
    )
    items = [Action.model_construct(**Action.fields_of(action)) for action in found]
    return JSONResponse(render(ActionList.model_construct(items=items)))


@operation(
    "getAction",
    "One data action with its schemas",
    tag="actions",
    access="read",
    parameters=(ACTION_ID,),
    replies={200: Reply("The action.", ActionDetail)},
    failures=(Failure.of(ActionNotFound), *GENESYS_FAILURES),
)
async def get_action(request: Request) -> Response:
    """``GET /api/v1/actions/{action_id}``."""
    action = await services(request).action_runs.catalog.action(request.path_params["action_id"])
    detail = ActionDetail.model_construct(
        **Action.fields_of(action),
        input_schema=action.input_schema,
        success_schema=action.success_schema,
    )
    return JSONResponse(render(detail))


_LOCATION = {"Location": Header("The run's URL.", required=True)}


@operation(
    "createActionRun",
    "Execute a data action",
    tag="actions",
    access="write",
    description="Validates the input against the action's contract (every problem at once, "
    "nothing sent on a refusal), then records the run and executes it. With `Prefer: "
    f"wait=N` (N ≤ {MAX_WAIT_SECONDS}) the answer waits up to N seconds: 201 with the "
    "finished run; otherwise 202 with `Location` to poll. A known `Idempotency-Key` "
    "executes nothing and answers 200 with the original run (409 for another request).",
    parameters=(
        ACTION_ID,
        Param(
            "Idempotency-Key",
            "header",
            string(minLength=1, maxLength=255),
            "Makes a retried request return the original run instead of executing again.",
        ),
        Param("Prefer", "header", string(), "`wait=N`: wait up to N seconds for the result."),
    ),
    body=RunRequest,
    replies={
        201: Reply(
            "Finished within the wait (or answered from the cache).", ActionRun, headers=_LOCATION
        ),
        202: Reply("Queued or running: poll `Location`.", ActionRun, headers=_LOCATION),
        200: Reply(
            "Replayed: the run this Idempotency-Key made before.",
            ActionRun,
            headers={
                **_LOCATION,
                "Idempotent-Replayed": Header(
                    "Always `true`.", string(enum=["true"]), required=True
                ),
            },
        ),
    },
    failures=(
        Failure.of(InvalidActionInput, detail=PROBLEMS),
        Failure.of(InvalidRunRequest, detail=PROBLEMS, detail_required=False),
        MalformedJSON,
        UnsupportedMediaType,
        Failure.of(IdempotencyKeyReused),
        Failure.of(ActionNotFound),
        *GENESYS_FAILURES,
        STORAGE_UNAVAILABLE,
    ),
)
async def post_run(request: Request) -> Response:
    """``POST /api/v1/actions/{action_id}/runs``."""
    runs = services(request).action_runs
    key = request.headers.get("idempotency-key")
    order = _order(request.path_params["action_id"], await json_body(request), key)
    try:
        row, created = await runs.create(order, key, identity_of(request).name)
    except IdempotencyKeyReused as exc:
        await audited(request, ACTION_RUN, exc.detail["runId"], REFUSED, exc.code)
        raise
    ran = f"action {order.action_id}" + (", dry run" if order.dry_run else "")
    await audited(request, ACTION_RUN, row["id"], CREATED if created else REPLAYED, ran)
    headers = {"Location": f"/api/v1/action-runs/{row['id']}"}
    wait = _wait_seconds(request.headers.get("prefer"))
    if wait is not None:
        headers["Preference-Applied"] = f"wait={wait}"
        if row["state"] not in FINAL_STATES:
            row = await runs.wait(row["id"], wait)
    if not created:
        headers["Idempotent-Replayed"] = "true"
        status = 200
    else:
        status = 201 if row["state"] in FINAL_STATES else 202
    return JSONResponse(run_json(row), status_code=status, headers=headers)


def _order(action_id: str, decoded: Any, key: str | None) -> RunOrder:
    if not isinstance(decoded, dict):
        raise InvalidRunRequest("the body must be a JSON object")
    problems: list[dict[str, str]] = []
    order = None
    try:
        body = RunRequest.model_validate(decoded)
        order = RunOrder(
            action_id=action_id,
            input=body.input,
            coerce=body.coerce,
            dry_run=body.dry_run,
            cache_ttl_seconds=body.cache_ttl_seconds,
            idempotent=body.idempotent,
        )
    except ValidationError as exc:
        problems = problems_of(exc, RunRequest)
    if key is not None and not 1 <= len(key) <= 255:
        problems.append({"field": "Idempotency-Key", "problem": "must be 1 to 255 characters"})
    if problems or order is None:
        first = problems[0]
        raise InvalidRunRequest(f"{first['field']}: {first['problem']}", detail=problems)
    return order


def _wait_seconds(prefer: str | None) -> int | None:
    """``wait=N`` of a ``Prefer`` header (RFC 7240), at most :data:`MAX_WAIT_SECONDS`."""
    if not prefer:
        return None
    found = _WAIT.search(prefer)
    return None if found is None else min(int(found.group(1)), MAX_WAIT_SECONDS)


@operation(
    "getActionStats",
    "One data action's run statistics",
    tag="actions",
    access="read",
    description="Runs by state and failure reason, latency p50/p95/max of the runs sent to "
    "Genesys, success rate of the finished ones, cache hits.",
    parameters=(ACTION_ID, *query_params(StatsQuery)),
    replies={200: Reply("The statistics.", ActionStats)},
    failures=(INVALID_QUERY, STORAGE_UNAVAILABLE),
)
async def get_stats(request: Request) -> Response:
    """``GET /api/v1/actions/{action_id}/stats?since=&until=``."""
    action_id = request.path_params["action_id"]
    query = Query.of(request.query_params, StatsQuery)
    query.check()
    stats = await services(request).action_runs.stats(
        action_id, query.values.since, query.values.until
    )
    latencies = sorted(stats.latencies_ms)
    finished = sum(n for state, n in stats.by_state.items() if state in FINAL_STATES)
    succeeded = stats.by_state.get("succeeded", 0)
    body = ActionStats.model_construct(
        action_id=action_id,
        runs=sum(stats.by_state.values()),
        by_state=stats.by_state,
        by_failure_reason=stats.by_failure_reason,
        latency_ms=LatencyMs.model_construct(
            p50=_percentile(latencies, 0.5),
            p95=_percentile(latencies, 0.95),
            max=latencies[-1] if latencies else None,
        ),
        success_rate=round(succeeded / finished, 4) if finished else None,
        cache_hits=stats.cache_hits,
    )
    return JSONResponse(render(body))


def _percentile(ordered: list[float], share: float) -> float | None:
    """Nearest-rank percentile."""
    if not ordered:
        return None
    rank = max(1, -(-len(ordered) * share // 1))
    return ordered[int(rank) - 1]
