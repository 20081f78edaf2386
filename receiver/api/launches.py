"""Launches over the REST API: ``/api/v1/launches``."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response

from receiver.api.audit import audited
from receiver.api.bodies import MalformedJSON, UnsupportedMediaType, json_body
from receiver.api.events import Event
from receiver.api.launch_models import (
    Launch,
    LaunchHistory,
    LaunchQuery,
    LaunchRequest,
    Rejection,
)
from receiver.api.launch_models import (
    LaunchDetail as LaunchDetail,  # terminations.py's import from here
)
from receiver.api.refusals import refusal_failures, refusal_status
from receiver.launches.service import (
    GenesysNotConfigured,
    IdempotencyKeyReused,
    InvalidLaunch,
    LaunchNotFound,
    LaunchOrder,
    LaunchRefused,
    LaunchView,
)
from receiver.resources import services
from receiver.web.models import problems_of, render
from receiver.web.models import timestamp as timestamp_text
from receiver.web.operations import (
    INVALID_QUERY,
    PROBLEMS,
    STORAGE_UNAVAILABLE,
    Failure,
    Header,
    Param,
    Reply,
    operation,
    page_of,
    query_params,
    string,
)
from receiver.web.pagination import Query, page
from receiver.web.responses import JSONResponse
from storage.audit import CREATED, LAUNCH, REFUSED, REPLAYED
from storage.launches import LaunchFilter


def launch_json(row: Any) -> dict[str, Any]:
    """A launch as lists show it."""
    return render(Launch.model_construct(**Launch.fields_of(row)))


def _detail(view: LaunchView) -> LaunchDetail:
    last = None if view.last_event is None else Event.of(view.last_event)
    return LaunchDetail.model_construct(
        **Launch.fields_of(view.row),
        event_counts=view.event_counts,
        last_event=last,
        history=LaunchHistory.of(view.row),
    )


def detail_json(view: LaunchView) -> dict[str, Any]:
    """A launch with its event counts, latest event and history state, as the API shows it."""
    return render(_detail(view))


LAUNCH_ID = Param("launch_id", "path", string(minLength=1), "The launch id.")
LAUNCH_FAILURES = (Failure.of(LaunchNotFound), STORAGE_UNAVAILABLE)


# -- HTTP handlers --------------------------------------------------------------------


@operation(
    "createLaunch",
    "Launch a flow",
    tag="launches",
    access="write",
    description="Records the launch, starts the flow on the platform with the launch id "
    "in its input, and answers once the platform has accepted it. A request with a known "
    "`Idempotency-Key` launches nothing and answers 200 with the original launch (409 when "
    "the key was used for a different request). Recorded in the audit.",
    parameters=(
        Param(
            "Idempotency-Key",
            "header",
            string(minLength=1, maxLength=255),
            "Makes a retried request return the original launch instead of launching again.",
        ),
    ),
    body=LaunchRequest,
    replies={
        201: Reply(
            "Launched.",
            LaunchDetail,
            headers={"Location": Header("The launch's URL.", required=True)},
        ),
        200: Reply(
            "Replayed: the launch this Idempotency-Key made before, whatever became of it.",
            LaunchDetail,
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
        MalformedJSON,
        UnsupportedMediaType,
        IdempotencyKeyReused,
        *refusal_failures(Rejection),
        Failure.of(GenesysNotConfigured),
        STORAGE_UNAVAILABLE,
    ),
)
async def post_launch(request: Request) -> Response:
    """``POST /api/v1/launches``: 201 with the new launch (200 when replayed by key)."""
    found = services(request)
    key = request.headers.get("idempotency-key")
    order = _launch_order(await json_body(request), key)
    try:
        view, created = await found.launches.launch(order, key)
    except LaunchRefused as exc:
        await audited(request, LAUNCH, exc.launch.row["id"], REFUSED, exc.code)
        return _refusal(exc)
    except IdempotencyKeyReused as exc:
        await audited(request, LAUNCH, exc.launch_id, REFUSED, exc.code)
        raise
    await audited(request, LAUNCH, view.row["id"], CREATED if created else REPLAYED)
    headers = {"Location": f"/api/v1/launches/{view.row['id']}"}
    if not created:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(detail_json(view), status_code=201 if created else 200, headers=headers)


def _launch_order(decoded: Any, idempotency_key: str | None) -> LaunchOrder:
    if not isinstance(decoded, dict):
        raise InvalidLaunch("the body must be a JSON object")
    problems: list[dict[str, str]] = []
    order = None
    try:
        order = LaunchRequest.model_validate(decoded).order()
    except ValidationError as exc:
        problems = problems_of(exc, LaunchRequest)
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= 255:
        problems.append({"field": "Idempotency-Key", "problem": "must be 1 to 255 characters"})
    if problems or order is None:
        first = problems[0]
        raise InvalidLaunch(f"{first['field']}: {first['problem']}", detail=problems)
    return order


def _refusal(exc: LaunchRefused) -> Response:
    cause = exc.cause
    rejection = Rejection.model_construct(
        genesys_status=cause.http_status,
        genesys_code=cause.genesys_code,
        correlation_id=cause.correlation_id,
        launch=_detail(exc.launch),
    )
    body = {"error": exc.code, "message": exc.message, "detail": render(rejection)}
    return JSONResponse(body, status_code=refusal_status(cause))


@operation(
    "getLaunch",
    "One launch",
    tag="launches",
    access="read",
    parameters=(LAUNCH_ID,),
    replies={200: Reply("The launch.", LaunchDetail)},
    failures=LAUNCH_FAILURES,
)
async def get_launch(request: Request) -> Response:
    """``GET /api/v1/launches/{id}``."""
    found = services(request)
    return JSONResponse(
        detail_json(await found.launches.describe(request.path_params["launch_id"]))
    )


@operation(
    "listLaunches",
    "Launches, newest first",
    tag="launches",
    access="read",
    parameters=query_params(LaunchQuery),
    replies={200: Reply("A page of launches.", page_of(Launch))},
    failures=(INVALID_QUERY, STORAGE_UNAVAILABLE),
)
async def get_launches(request: Request) -> Response:
    """``GET /api/v1/launches``: newest first; filters state, flowId, since, until,
    conversationId, flowExecutionId, namePrefix."""
    found = services(request)
    query = Query.of(request.query_params, LaunchQuery)
    where = query.filter(LaunchFilter)
    limit = query.values.limit
    after = query.position_cursor(str)
    query.check()
    rows = await found.launch_store.list(where, after=after, limit=limit + 1)
    return JSONResponse(
        page(
            rows,
            limit,
            launch_json,
            lambda last: [timestamp_text(last["created_at"]), last["id"]],
            query,
        )
    )
