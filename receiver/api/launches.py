"""Launches over the REST API: ``/api/v1/launches``."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from receiver.api.events import EVENT, event_json
from receiver.genesys.errors import (
    GenesysAuthError,
    GenesysBadRequest,
    GenesysBadResponse,
    GenesysConflict,
    GenesysError,
    GenesysForbidden,
    GenesysNotFound,
    GenesysRateLimited,
    GenesysUnavailable,
)
from receiver.ingest.canonical import KINDS
from receiver.launches.service import (
    _LAUNCH_FIELDS,
    MAX_TIMEOUT_SECONDS,
    GenesysNotConfigured,
    InvalidLaunch,
    LaunchNotFound,
    LaunchRefused,
    LaunchView,
)
from receiver.launches.sweep import TerminationRefused, UnknownLaunch
from receiver.resources import services
from receiver.web.openapi import (
    CURSOR,
    INVALID_QUERY,
    LIMIT,
    PROBLEMS,
    STORAGE_UNAVAILABLE,
    Component,
    Failure,
    Header,
    Param,
    Reply,
    date_time,
    integer,
    nullable,
    obj,
    operation,
    page_of,
    since_until,
    string,
)
from receiver.web.pagination import Query, page
from receiver.web.responses import JSONResponse, timestamp
from storage import launches as store
from storage.launches import LaunchFilter


def launch_json(row: Any) -> dict[str, Any]:
    """A launch as the API shows it."""
    node = None
    if row["current_node_id"] is not None:
        node = {"id": row["current_node_id"], "name": row["current_node_name"]}
    return {
        "id": row["id"],
        "flowId": row["flow_id"],
        "flowVersion": row["flow_version"],
        "name": row["name"],
        "state": row["state"],
        "stateReason": row["state_reason"],
        "errorCode": row["error_code"],
        "flowExecutionId": row["flow_execution_id"],
        "conversationId": row["conversation_id"],
        "currentNode": node,
        "inputData": orjson.Fragment(row["input_data"]) if row["input_data"] else None,
        "timeoutSeconds": row["timeout_seconds"],
        "idleTimeoutSeconds": row["idle_timeout_seconds"],
        "createdAt": timestamp(row["created_at"]),
        "updatedAt": timestamp(row["updated_at"]),
        "deadlineAt": timestamp(row["deadline_at"]),
        "lastEventAt": timestamp(row["last_event_at"]),
        "endedAt": timestamp(row["ended_at"]),
    }


def detail_json(view: LaunchView) -> dict[str, Any]:
    """A launch with its event counts and latest event, as the API shows it."""
    body = launch_json(view.row)
    body["eventCounts"] = view.event_counts
    body["lastEvent"] = None if view.last_event is None else event_json(view.last_event)
    return body


# -- the API's schemas ---------------------------------------------------------------

_SECONDS = integer(minimum=1, maximum=MAX_TIMEOUT_SECONDS)

_LAUNCH_PROPERTIES = {
    "id": string("The launch id (flowtrack's)."),
    "flowId": string(),
    "flowVersion": nullable(string("The version launched (null: the published one).")),
    "name": nullable(string()),
    "state": string(
        "`pending` → `running` → `completed` | `failed` | `terminated` | `timed_out`; "
        "`launch_failed` when the platform refused it; `termination_failed` when ending "
        "it kept failing.",
        enum=list(store.STATES),
    ),
    "stateReason": nullable(string("Why it is in this state.")),
    "errorCode": nullable(string()),
    "flowExecutionId": nullable(string("The platform's execution id, once launched.")),
    "conversationId": nullable(string("The conversation it runs in, once known.")),
    "currentNode": nullable(
        obj(
            {"id": string(), "name": nullable(string())},
            "The node of the latest node event.",
        )
    ),
    "inputData": nullable({"type": "object", "description": "The flow's input variables."}),
    "timeoutSeconds": nullable(_SECONDS),
    "idleTimeoutSeconds": nullable(_SECONDS),
    "createdAt": date_time(),
    "updatedAt": date_time(),
    "deadlineAt": nullable(date_time()),
    "lastEventAt": nullable(date_time()),
    "endedAt": nullable(date_time()),
}

LAUNCH = Component("Launch", obj(_LAUNCH_PROPERTIES, "A launch, as lists show it."))

LAUNCH_DETAIL = Component(
    "LaunchDetail",
    obj(
        _LAUNCH_PROPERTIES
        | {
            "eventCounts": {
                "type": "object",
                "description": "Its events by kind.",
                "propertyNames": {"enum": list(KINDS)},
                "additionalProperties": integer(minimum=1),
            },
            "lastEvent": nullable(EVENT),
        },
        "A launch with its event counts and latest event.",
    ),
)

LAUNCH_REQUEST = Component(
    "LaunchRequest",
    obj(
        {
            "flowId": string("The flow to launch.", minLength=1, maxLength=128),
            "flowVersion": nullable(string("Default: the published version.", maxLength=64)),
            "inputData": nullable({"type": "object", "description": "The flow's inputs."}),
            "name": nullable(string(maxLength=255)),
            "timeoutSeconds": nullable(_SECONDS),
            "idleTimeoutSeconds": nullable(_SECONDS),
        },
        optional=sorted(_LAUNCH_FIELDS - {"flowId"}),
    )
    | {
        "examples": [
            {
                "flowId": "7d2a3b1e-5c0f-4f6e-9a41-2b8e0c9d1f37",
                "inputData": {"Flow.orderId": "4711"},
                "name": "order 4711",
                "timeoutSeconds": 900,
                "idleTimeoutSeconds": 300,
            }
        ]
    },
)

_REJECTION = obj(
    {
        "genesysStatus": nullable(integer("The platform's HTTP status.")),
        "genesysCode": nullable(string("The platform's error code.")),
        "correlationId": nullable(string("The platform's ININ-Correlation-Id.")),
        "launch": LAUNCH_DETAIL,
    },
    "What the platform said, and the launch as kept (`launch_failed` or `pending`).",
)


def _rejected(error: type[GenesysError], status: int, description: str) -> Failure:
    return Failure.of(error, description, status=status, detail=_REJECTION)


_LAUNCH_ID = Param("launch_id", "path", string(minLength=1), "The launch id.")
_LAUNCH_FAILURES = (Failure.of(LaunchNotFound), STORAGE_UNAVAILABLE)


# -- HTTP handlers --------------------------------------------------------------------


@operation(
    "createLaunch",
    "Launch a flow",
    tag="launches",
    access="write",
    description="Records the launch, starts the flow on the platform with the launch id "
    "in its input, and answers once the platform has accepted it. A request with a known "
    "`Idempotency-Key` launches nothing and answers 200 with the original launch.",
    parameters=(
        Param(
            "Idempotency-Key",
            "header",
            string(minLength=1, maxLength=255),
            "Makes a retried request return the original launch instead of launching again.",
        ),
    ),
    body=LAUNCH_REQUEST,
    replies={
        201: Reply(
            "Launched.",
            LAUNCH_DETAIL,
            headers={"Location": Header("The launch's URL.", required=True)},
        ),
        200: Reply(
            "Replayed: the launch this Idempotency-Key made before, whatever became of it.",
            LAUNCH_DETAIL,
            headers={
                "Location": Header("The launch's URL.", required=True),
                "Idempotent-Replayed": Header(
                    "Always `true`.", string(enum=["true"]), required=True
                ),
            },
        ),
    },
    failures=(
        Failure.of(InvalidLaunch, detail=PROBLEMS, detail_required=False),
        _rejected(GenesysBadRequest, 422, "The platform refused the input."),
        _rejected(GenesysNotFound, 422, "The platform knows no such flow (version)."),
        _rejected(GenesysConflict, 422, "The flow cannot be launched now."),
        _rejected(GenesysError, 422, "The platform refused it (another 4xx)."),
        _rejected(GenesysError, 502, "The platform failed."),
        _rejected(GenesysAuthError, 502, "flowtrack's OAuth client was refused."),
        _rejected(GenesysForbidden, 502, "flowtrack's OAuth client lacks a permission."),
        _rejected(GenesysBadResponse, 502, "The platform answered nonsense."),
        Failure(
            502,
            "launch_outcome_unknown",
            "The platform failed after the request was sent: the flow may be running. "
            "The launch stays `pending`; nothing is launched again.",
            _REJECTION,
        ),
        _rejected(GenesysRateLimited, 503, "Rate limited past the retry budget."),
        _rejected(GenesysUnavailable, 503, "The platform is unreachable."),
        Failure.of(GenesysNotConfigured),
        STORAGE_UNAVAILABLE,
    ),
)
async def post_launch(request: Request) -> Response:
    """``POST /api/v1/launches``: 201 with the new launch (200 when replayed by key)."""
    found = services(request)
    found.api_keys.require(request, write=True)
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise InvalidLaunch(f"body is not valid JSON: {exc}") from None
    try:
        view, created = await found.launches.launch(body, request.headers.get("idempotency-key"))
    except LaunchRefused as exc:
        return _refusal(exc)
    headers = {"Location": f"/api/v1/launches/{view.row['id']}"}
    if not created:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(detail_json(view), status_code=201 if created else 200, headers=headers)


def _refusal(exc: LaunchRefused) -> Response:
    cause = exc.cause
    if exc.outcome_unknown:
        status = 502
    elif isinstance(cause, GenesysRateLimited | GenesysUnavailable):
        status = 503
    elif isinstance(cause, GenesysAuthError):
        status = 502
    elif cause.http_status is not None and 400 <= cause.http_status < 500:
        status = 422
    else:
        status = 502
    detail = {
        "genesysStatus": cause.http_status,
        "genesysCode": cause.genesys_code,
        "correlationId": cause.correlation_id,
        "launch": detail_json(exc.launch),
    }
    body = {"error": exc.code, "message": exc.message, "detail": detail}
    return JSONResponse(body, status_code=status)


@operation(
    "getLaunch",
    "One launch",
    tag="launches",
    access="read",
    parameters=(_LAUNCH_ID,),
    replies={200: Reply("The launch.", LAUNCH_DETAIL)},
    failures=_LAUNCH_FAILURES,
)
async def get_launch(request: Request) -> Response:
    """``GET /api/v1/launches/{id}``."""
    found = services(request)
    found.api_keys.require(request)
    return JSONResponse(
        detail_json(await found.launches.describe(request.path_params["launch_id"]))
    )


@operation(
    "listLaunches",
    "Launches, newest first",
    tag="launches",
    access="read",
    parameters=(
        Param("state", "query", string(enum=list(store.STATES)), "Only launches in this state."),
        Param("flowId", "query", string(), "Only launches of this flow."),
        *since_until("createdAt"),
        LIMIT,
        CURSOR,
    ),
    replies={200: Reply("A page of launches.", page_of(LAUNCH))},
    failures=(INVALID_QUERY, STORAGE_UNAVAILABLE),
)
async def get_launches(request: Request) -> Response:
    """``GET /api/v1/launches``: newest first; filters state, flowId, since, until."""
    found = services(request)
    found.api_keys.require(request)
    query = Query(request.query_params, ("state", "flowId", "since", "until", "limit", "cursor"))
    where = LaunchFilter(
        state=query.text("state", store.STATES),
        flow_id=query.text("flowId"),
        since=query.timestamp("since"),
        until=query.timestamp("until"),
    )
    limit = query.limit()
    after = query.position_cursor(str)
    query.check()
    rows = await run_in_threadpool(
        store.list_launches, found.engine, where, after=after, limit=limit + 1
    )
    return JSONResponse(
        page(rows, limit, launch_json, lambda last: [timestamp(last["created_at"]), last["id"]])
    )


@operation(
    "terminateLaunch",
    "End a launch now",
    tag="launches",
    access="write",
    description="Ends it the way the sweep ends a stuck launch, with outcome `terminated`. "
    "Calling it again is harmless. A conversation launch shows `terminated` once the next "
    "sweep confirms the disconnect.",
    parameters=(_LAUNCH_ID,),
    replies={200: Reply("The launch.", LAUNCH_DETAIL)},
    failures=(*_LAUNCH_FAILURES, Failure.of(UnknownLaunch), TerminationRefused),
)
async def terminate_launch(request: Request) -> Response:
    """``POST /api/v1/launches/{id}/terminate``: end it now, the way the sweep would."""
    found = services(request)
    found.api_keys.require(request, write=True)
    launch_id = request.path_params["launch_id"]
    await found.sweeper.terminate(launch_id)
    await found.tracker.settled()
    return JSONResponse(detail_json(await found.launches.describe(launch_id)))
