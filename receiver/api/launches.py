"""Launches over the REST API: ``/api/v1/launches``."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

import orjson
from pydantic import ConfigDict, Field, StrictInt, ValidationError, field_validator
from pydantic_core import PydanticCustomError
from starlette.requests import Request
from starlette.responses import Response

from receiver.api.audit import audited
from receiver.api.bodies import MalformedJSON, UnsupportedMediaType, json_body
from receiver.api.events import Event
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
from receiver.web.models import (
    RequestModel,
    Timestamp,
    WireModel,
    one_of,
    problems_of,
    raw_json,
    render,
)
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
from storage.vocabulary import KINDS, STATES

MAX_TIMEOUT_SECONDS = 30 * 24 * 3600
_Seconds = Annotated[StrictInt, Field(ge=1, le=MAX_TIMEOUT_SECONDS)]
_NoNul = r"^[^\x00]*$"
_UUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


class CurrentNode(WireModel):
    """The node of the latest node event."""

    id: str
    name: str | None


class Launch(WireModel):
    """A launch, as lists show it."""

    id: str = Field(description="The launch id (flowtrack's).")
    flow_id: str
    flow_version: str | None = Field(description="The version launched (null: the published one).")
    name: str | None
    state: str = one_of(
        STATES,
        "`pending` → `running` → `completed` | `failed` | `terminated` | `timed_out`; "
        "`launch_failed` when the platform refused it; `termination_failed` when ending "
        "it kept failing.",
    )
    state_reason: str | None = Field(description="Why it is in this state.")
    error_code: str | None
    flow_execution_id: str | None = Field(description="The platform's execution id, once launched.")
    conversation_id: str | None = Field(description="The conversation it runs in, once known.")
    current_node: CurrentNode | None
    input_data: Annotated[Any, raw_json("The flow's input variables (null: none).", nullable=True)]
    timeout_seconds: int | None = Field(ge=1, le=MAX_TIMEOUT_SECONDS)
    idle_timeout_seconds: int | None = Field(ge=1, le=MAX_TIMEOUT_SECONDS)
    created_at: Timestamp
    updated_at: Timestamp
    deadline_at: Timestamp | None
    last_event_at: Timestamp | None
    ended_at: Timestamp | None

    @classmethod
    def fields_of(cls, row: Any) -> dict[str, Any]:
        node = None
        if row["current_node_id"] is not None:
            node = CurrentNode.model_construct(
                id=row["current_node_id"], name=row["current_node_name"]
            )
        return {
            "id": row["id"],
            "flow_id": row["flow_id"],
            "flow_version": row["flow_version"],
            "name": row["name"],
            "state": row["state"],
            "state_reason": row["state_reason"],
            "error_code": row["error_code"],
            "flow_execution_id": row["flow_execution_id"],
            "conversation_id": row["conversation_id"],
            "current_node": node,
            "input_data": orjson.Fragment(row["input_data"]) if row["input_data"] else None,
            "timeout_seconds": row["timeout_seconds"],
            "idle_timeout_seconds": row["idle_timeout_seconds"],
            "created_at": row["created_at"],
            "updated_at": row["updated_at"],
            "deadline_at": row["deadline_at"],
            "last_event_at": row["last_event_at"],
            "ended_at": row["ended_at"],
        }


class LaunchDetail(Launch):
    """A launch with its event counts and latest event."""

    event_counts: dict[str, int] = Field(
        description="Its events by kind.",
        json_schema_extra={"propertyNames": {"enum": list(KINDS)}},
    )
    last_event: Event | None


def launch_json(row: Any) -> dict[str, Any]:
    """A launch as lists show it."""
    return render(Launch.model_construct(**Launch.fields_of(row)))


def _detail(view: LaunchView) -> LaunchDetail:
    last = None if view.last_event is None else Event.of(view.last_event)
    return LaunchDetail.model_construct(
        **Launch.fields_of(view.row), event_counts=view.event_counts, last_event=last
    )


def detail_json(view: LaunchView) -> dict[str, Any]:
    """A launch with its event counts and latest event, as the API shows it."""
    return render(_detail(view))


class LaunchRequest(RequestModel):
    """What to launch."""

    model_config = ConfigDict(
        coerce_numbers_to_str=True,
        json_schema_extra={
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

    flow_id: str = Field(
        description="The flow to launch: its id, a UUID.",
        min_length=1,
        max_length=128,
        json_schema_extra={"format": "uuid", "pattern": _UUID},
    )
    flow_version: str | None = Field(
        None, description="Default: the published version.", max_length=64, pattern=_NoNul
    )
    input_data: dict[str, Any] | None = Field(None, description="The flow's inputs.")
    name: str | None = Field(None, max_length=255, pattern=_NoNul)
    timeout_seconds: _Seconds | None = None
    idle_timeout_seconds: _Seconds | None = None

    @field_validator("flow_id")
    @classmethod
    def _a_flow_id(cls, value: str) -> str:
        # Refused here: the platform would refuse it too, after a launch_failed was stored.
        if not re.fullmatch(_UUID, value):
            raise PydanticCustomError(
                "flow_id", "must be a flow id, a UUID such as 7d2a3b1e-5c0f-4f6e-9a41-2b8e0c9d1f37"
            )
        return value

    def order(self) -> LaunchOrder:
        """The launch this request asks for (empty texts count as absent)."""
        return LaunchOrder(
            flow_id=self.flow_id,
            flow_version=self.flow_version or None,
            name=self.name or None,
            input_data=self.input_data,
            timeout_seconds=self.timeout_seconds,
            idle_timeout_seconds=self.idle_timeout_seconds,
        )


class Rejection(WireModel):
    """What the platform said, and the launch as kept (`launch_failed` or `pending`)."""

    genesys_status: int | None = Field(description="The platform's HTTP status.")
    genesys_code: str | None = Field(description="The platform's error code.")
    correlation_id: str | None = Field(description="The platform's ININ-Correlation-Id.")
    launch: LaunchDetail


class LaunchQuery(RequestModel):
    """The filters of ``GET /api/v1/launches``."""

    state: str | None = one_of(STATES, "Only launches in this state.", nullable=True)
    flow_id: str | None = Field(None, description="Only launches of this flow.")
    since: datetime | None = Field(None, description="Only launches created at or after this time.")
    until: datetime | None = Field(None, description="Only launches created before this time.")
    limit: int = 0
    cursor: str | None = None


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
    """``GET /api/v1/launches``: newest first; filters state, flowId, since, until."""
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
