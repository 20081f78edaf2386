"""Launching flows: ``/api/v1/launches``.

flowtrack records a launch before it calls ``POST /api/v2/flows/executions`` (with the
launch id added to ``inputData`` so the flow can echo it in callbacks), then stores the
execution id, records a ``start`` event, and learns the conversation id in the
background. An ``Idempotency-Key`` makes a retried request return the original launch.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from receiver.api import EVENT, event_json
from receiver.canonical import KINDS
from receiver.dedupe import dedupe_key
from receiver.errors import FlowtrackError
from receiver.fields import FieldReader
from receiver.genesys import GenesysClient
from receiver.genesys.errors import (
    GenesysAuthError,
    GenesysBadRequest,
    GenesysBadResponse,
    GenesysConflict,
    GenesysError,
    GenesysForbidden,
    GenesysNotFound,
    GenesysOutcomeUnknown,
    GenesysRateLimited,
    GenesysUnavailable,
)
from receiver.openapi import (
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
from receiver.pagination import Query, page
from receiver.responses import JSONResponse, timestamp
from receiver.services import services
from receiver.sweep import TerminationRefused, UnknownLaunch
from receiver.tracker import LaunchTracker
from storage import launches as store
from storage.launches import LaunchFilter, NewLaunch
from storage.records import EventRecord
from storage.writer import EventWriter


def new_launch_id() -> str:
    """A UUIDv7 (RFC 9562): time-ordered, so the indexes keyed by launch id grow at the end.

    Every event of a launch carries its id; random ids would scatter those index entries
    over the whole index, one page written per event, where recent ids share hot pages.
    """
    return uuid7(time.time_ns() // 1_000_000, secrets.randbits(80))


def uuid7(milliseconds: int, random_bits: int) -> str:
    """The UUIDv7 for a Unix time in milliseconds and 80 random bits (6 become fixed)."""
    value = milliseconds << 80 | random_bits & ((1 << 80) - 1)
    value = value & ~(0xF << 76) | 0x7 << 76  # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62  # variant RFC 9562
    return str(uuid.UUID(int=value))


log = logging.getLogger("flowtrack.launches")

MAX_TIMEOUT_SECONDS = 30 * 24 * 3600


class InvalidLaunch(FlowtrackError):
    """The launch request is not valid JSON, or a field is missing, unknown or wrong."""

    status = 422
    code = "invalid_launch"


class LaunchNotFound(FlowtrackError):
    """No launch has this id."""

    status = 404
    code = "launch_not_found"


class GenesysNotConfigured(FlowtrackError):
    """flowtrack has no Genesys client credentials, so it cannot launch."""

    status = 503
    code = "genesys_not_configured"


class LaunchRejected(FlowtrackError):
    """The platform refused or could not take the launch; ``detail`` carries the launch."""

    code = "launch_rejected"

    def __init__(self, message: str, *, status: int, code: str, detail: Any) -> None:
        super().__init__(message, detail=detail)
        self.status = status
        self.code = code


class LaunchService:
    """Starts flows on the platform and keeps the launch records in step."""

    def __init__(
        self,
        engine: Engine,
        writer: EventWriter,
        tracker: LaunchTracker,
        genesys: GenesysClient | None,
        *,
        launch_id_input_key: str,
        default_timeout_seconds: int,
        flow_timeouts: Mapping[str, int] | None = None,
        idle_timeout_seconds: int | None = None,
    ) -> None:
        self._engine = engine
        self._writer = writer
        self._tracker = tracker
        self._genesys = genesys
        self._input_key = launch_id_input_key
        self._default_timeout = default_timeout_seconds
        self._flow_timeouts = dict(flow_timeouts or {})
        self._idle_timeout = idle_timeout_seconds
        self._background: set[asyncio.Task[None]] = set()

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)

    async def launch(self, body: Any, idempotency_key: str | None) -> tuple[dict[str, Any], bool]:
        """Launch a flow; returns the launch JSON and whether this call created it."""
        if self._genesys is None:
            raise GenesysNotConfigured(
                "launching needs FLOWTRACK_GENESYS_CLIENT_ID and FLOWTRACK_GENESYS_CLIENT_SECRET"
            )
        new = self._new_launch(body, idempotency_key)
        row, created = await run_in_threadpool(store.insert_launch, self._engine, new)
        if not created:
            return await self.describe(row["id"]), False
        input_data = dict(orjson.loads(new.input_data) if new.input_data else {})
        input_data[self._input_key] = new.id
        try:
            launched = await self._genesys.launch_flow(
                new.flow_id,
                flow_version=new.flow_version,
                input_data=input_data,
                name=new.name or f"flowtrack {new.id}",
            )
        except GenesysError as exc:
            await self._refused(new.id, exc)
            raise  # unreachable: _refused raises
        now = datetime.now(UTC)
        await run_in_threadpool(store.mark_launched, self._engine, new.id, launched.id, now)
        start = EventRecord(
            dedupe_key("launch", new.id),
            "start",
            "flowtrack",
            now,
            now,
            new.id,
            launched.id,
            None,
            new.flow_id,
            launched.flow_version or new.flow_version,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            orjson.dumps({"launch": launched.raw}).decode(),
        )
        await self._writer.write([start])
        self._tracker.notice_launch(new.id)
        self._spawn(self._learn_conversation(new.id, launched.id))
        log.info(
            "flow launched",
            extra={"action": "launch.started", "launch_id": new.id, "execution_id": launched.id},
        )
        return await self.describe(new.id), True

    async def describe(self, launch_id: str) -> dict[str, Any]:
        """The full launch JSON, with event counts and the last event."""
        row = await run_in_threadpool(store.get_launch, self._engine, launch_id)
        if row is None:
            raise LaunchNotFound(f"no launch {launch_id!r}")
        counts, last = await run_in_threadpool(store.event_summary, self._engine, launch_id)
        body = launch_json(row)
        body["eventCounts"] = counts
        body["lastEvent"] = None
        if last is not None:
            body["lastEvent"] = event_json(last)
        return body

    async def _refused(self, launch_id: str, exc: GenesysError) -> None:
        now = datetime.now(UTC)
        if isinstance(exc, GenesysOutcomeUnknown):
            # The platform may or may not have started it: keep it pending, say why.
            reason = f"launch outcome unknown: {exc.message}"
            await run_in_threadpool(store.note_reason, self._engine, launch_id, reason, now)
            status = 502
        else:
            reason = exc.message
            await run_in_threadpool(
                store.mark_launch_failed, self._engine, launch_id, exc.genesys_code, reason, now
            )
            if isinstance(exc, GenesysRateLimited | GenesysUnavailable):
                status = 503
            elif isinstance(exc, GenesysAuthError):
                status = 502
            elif exc.http_status is not None and 400 <= exc.http_status < 500:
                status = 422
            else:
                status = 502
        log.warning(
            reason,
            extra={
                "action": "launch.refused",
                "launch_id": launch_id,
                "genesys_status": exc.http_status,
                "genesys_code": exc.genesys_code,
                "correlation_id": exc.correlation_id,
            },
        )
        detail = {
            "genesysStatus": exc.http_status,
            "genesysCode": exc.genesys_code,
            "correlationId": exc.correlation_id,
            "launch": await self.describe(launch_id),
        }
        code = "launch_outcome_unknown" if isinstance(exc, GenesysOutcomeUnknown) else exc.code
        raise LaunchRejected(reason, status=status, code=code, detail=detail) from exc

    async def _learn_conversation(self, launch_id: str, execution_id: str) -> None:
        assert self._genesys is not None
        try:
            execution = await self._genesys.get_execution(execution_id)
        except GenesysError as exc:
            # The sweep polls again later; nothing is lost by giving up here.
            log.info(str(exc), extra={"action": "launch.poll_failed", "launch_id": launch_id})
            return
        if execution.conversation_id:
            now = datetime.now(UTC)
            learned = await run_in_threadpool(
                store.set_conversation, self._engine, launch_id, execution.conversation_id, now
            )
            if learned:
                self._tracker.notice_launch(launch_id)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _new_launch(self, body: Any, idempotency_key: str | None) -> NewLaunch:
        if not isinstance(body, dict):
            raise InvalidLaunch("the body must be a JSON object")
        errors: list[dict[str, str]] = []
        fields = FieldReader(body, "", errors)
        before = len(errors)
        flow_id = fields.text("flowId", 128)
        # Absent, null and "" all leave no flow to launch; a wrong type is reported already.
        if flow_id is None and len(errors) == before:
            fields.problem("flowId", "is required")
        flow_version = fields.text("flowVersion", 64)
        name = fields.text("name", 255)
        input_data = body.get("inputData")
        if input_data is not None and not isinstance(input_data, dict):
            fields.problem("inputData", "must be an object")
        timeout = _seconds(fields, "timeoutSeconds")
        idle = _seconds(fields, "idleTimeoutSeconds")
        for unknown in sorted(set(body) - _LAUNCH_FIELDS):
            fields.problem(unknown, f"unknown field; allowed: {', '.join(sorted(_LAUNCH_FIELDS))}")
        if idempotency_key is not None and not 1 <= len(idempotency_key) <= 255:
            errors.append({"field": "Idempotency-Key", "problem": "must be 1 to 255 characters"})
        if errors or flow_id is None:
            first = errors[0]
            raise InvalidLaunch(f"{first['field']}: {first['problem']}", detail=errors)
        created = datetime.now(UTC)
        # The request's timeout, else the flow's configured one, else the global default.
        seconds = timeout or self._flow_timeouts.get(flow_id) or self._default_timeout
        deadline = created + timedelta(seconds=seconds)
        idle = idle if idle is not None else self._idle_timeout
        return NewLaunch(
            id=new_launch_id(),
            flow_id=flow_id,
            flow_version=flow_version,
            name=name,
            input_data=orjson.dumps(input_data).decode() if input_data is not None else None,
            idempotency_key=idempotency_key,
            timeout_seconds=timeout,
            idle_timeout_seconds=idle,
            created_at=created,
            deadline_at=deadline,
        )


_LAUNCH_FIELDS = frozenset(
    {"flowId", "flowVersion", "inputData", "name", "timeoutSeconds", "idleTimeoutSeconds"}
)


def _seconds(fields: FieldReader, name: str) -> int | None:
    value = fields.obj.get(name)
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 1 <= value <= MAX_TIMEOUT_SECONDS
    ):
        fields.problem(name, f"must be a whole number of seconds from 1 to {MAX_TIMEOUT_SECONDS}")
        return None
    return value


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
    launch, created = await found.launches.launch(body, request.headers.get("idempotency-key"))
    headers = {"Location": f"/api/v1/launches/{launch['id']}"}
    if not created:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(launch, status_code=201 if created else 200, headers=headers)


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
    return JSONResponse(await found.launches.describe(request.path_params["launch_id"]))


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
    return JSONResponse(await found.launches.describe(launch_id))
