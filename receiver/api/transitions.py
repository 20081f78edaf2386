"""Transition histories over the REST API: the path a launch or a conversation took.

``GET /api/v1/launches/{id}/transitions`` and
``GET /api/v1/conversations/{conversationId}/transitions`` answer the steps of the path
(storage.visits says how events become steps), a page at a time. A page holds up to
``limit`` steps (default and most: 1000, so a normal history is one page).
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from receiver.api.events import EVENT_SOURCES
from receiver.errors import FlowtrackError
from receiver.fields import parse_timestamp
from receiver.launches.service import LaunchNotFound
from receiver.resources import services
from receiver.web.openapi import (
    CURSOR,
    INVALID_QUERY,
    STORAGE_UNAVAILABLE,
    Component,
    Param,
    Reply,
    date_time,
    integer,
    nullable,
    obj,
    operation,
    string,
)
from receiver.web.pagination import MAX_LIMIT, Query, encode_cursor
from receiver.web.responses import JSONResponse, timestamp
from storage import launches as launch_store
from storage.history import Resume, TransitionPage, launch_transitions, transitions
from storage.visits import DATA_ACTION, PLATFORM, Step

_PARAMS = ("limit", "cursor")


class ConversationNotFound(FlowtrackError):
    """No event of this conversation is stored."""

    status = 404
    code = "conversation_not_found"


STEP = Component(
    "Step",
    obj(
        {
            "type": string(
                "`node` (a node visit), `start`, `error`, `complete`, `milestone`, "
                "`outcome`, or `node_enter` / `node_exit` for node events naming no node."
            ),
            "at": date_time("Where the step begins."),
            "nodeId": nullable(string()),
            "nodeType": nullable(string()),
            "nodeName": nullable(string()),
            "enteredAt": nullable(date_time()),
            "exitedAt": nullable(date_time()),
            "durationMs": nullable({"type": "number", "minimum": 0}),
            "outputPath": nullable(string()),
            "outcome": nullable(
                string(
                    "Of a visit: `exited`, `errored`, `open` (still inside), `missing_enter`, "
                    "`missing_exit`; of a completion: the flow's outcome."
                )
            ),
            "errorCode": nullable(string()),
            "errorMessage": nullable(string()),
            "source": string(enum=list(EVENT_SOURCES)),
            "flowId": nullable(string()),
            "eventIds": {"type": "array", "items": integer(), "description": "Its events."},
        },
        "One step of the path.",
    ),
)

_PATH_PAGE = {
    "nodeSource": nullable(
        string(
            "Where node events come from: the flow's own data action reports, or the "
            "platform's (null: no node events).",
            enum=["data_action", "platform"],
        )
    ),
    "items": {"type": "array", "items": STEP},
    "nextCursor": nullable(string("Pass as `cursor` for the next page; null on the last.")),
}
_PAGE_PARAMS = (
    Param(
        "limit",
        "query",
        integer(minimum=1, maximum=MAX_LIMIT, default=MAX_LIMIT),
        f"Most steps on the page (1 to {MAX_LIMIT}, default {MAX_LIMIT}).",
    ),
    CURSOR,
)


@operation(
    "getLaunchTransitions",
    "The path a launch took",
    tag="history",
    access="read",
    description="Every step in history order, built from events that may have arrived "
    "out of order or twice. A node visited twice (a loop) appears twice.",
    parameters=(Param("launch_id", "path", string(minLength=1), "The launch id."), *_PAGE_PARAMS),
    replies={
        200: Reply(
            "The path, a page at a time.",
            obj(
                {
                    "launchId": string(),
                    "flowId": string(),
                    "state": string(enum=list(launch_store.STATES)),
                    "flowExecutionId": nullable(string()),
                    "conversationId": nullable(string()),
                }
                | _PATH_PAGE
            ),
        )
    },
    failures=(INVALID_QUERY, LaunchNotFound, STORAGE_UNAVAILABLE),
)
async def get_launch_transitions(request: Request) -> Response:
    """``GET /api/v1/launches/{launch_id}/transitions``: the launch's path (its events)."""
    found = services(request)
    found.api_keys.require(request)
    launch_id = request.path_params["launch_id"]
    limit, resume = _page_params(request)
    launch, page = await run_in_threadpool(
        launch_transitions, found.engine, launch_id, limit=limit, resume=resume
    )
    if launch is None:
        raise LaunchNotFound(f"no launch {launch_id!r}")
    body: dict[str, Any] = {
        "launchId": launch_id,
        "flowId": launch["flow_id"],
        "state": launch["state"],
        "flowExecutionId": launch["flow_execution_id"],
        "conversationId": launch["conversation_id"],
    }
    return JSONResponse(body | _page_json(page))


@operation(
    "getConversationTransitions",
    "The path a conversation's flow took",
    tag="history",
    access="read",
    description="Like a launch's path, for every event of the conversation, including "
    "conversations flowtrack did not launch.",
    parameters=(
        Param("conversation_id", "path", string(minLength=1), "The conversation id."),
        *_PAGE_PARAMS,
    ),
    replies={
        200: Reply("The path, a page at a time.", obj({"conversationId": string()} | _PATH_PAGE))
    },
    failures=(INVALID_QUERY, ConversationNotFound, STORAGE_UNAVAILABLE),
)
async def get_conversation_transitions(request: Request) -> Response:
    """``GET /api/v1/conversations/{conversation_id}/transitions``: its events' path."""
    found = services(request)
    found.api_keys.require(request)
    conversation_id = request.path_params["conversation_id"]
    limit, resume = _page_params(request)
    page = await run_in_threadpool(
        transitions, found.engine, "conversation_id", conversation_id, limit=limit, resume=resume
    )
    if page is None:
        raise ConversationNotFound(f"no events of conversation {conversation_id!r}")
    return JSONResponse({"conversationId": conversation_id} | _page_json(page))


def step_json(step: Step) -> dict[str, Any]:
    """One step of a path as the API shows it (every step has every field)."""
    duration = None
    if step.entered_at is not None and step.exited_at is not None:
        duration = round((step.exited_at - step.entered_at).total_seconds() * 1000, 3)
    return {
        "type": step.type,
        "at": timestamp(step.at),
        "nodeId": step.node_id,
        "nodeType": step.node_type,
        "nodeName": step.node_name,
        "enteredAt": timestamp(step.entered_at),
        "exitedAt": timestamp(step.exited_at),
        "durationMs": duration,
        "outputPath": step.output_path,
        "outcome": step.outcome,
        "errorCode": step.error_code,
        "errorMessage": step.error_message,
        "source": step.source,
        "flowId": step.flow_id,
        "eventIds": step.event_ids,
    }


def _page_json(page: TransitionPage | None) -> dict[str, Any]:
    if page is None:  # a launch with no events yet
        return {"nodeSource": None, "items": [], "nextCursor": None}
    cursor = None
    if page.resume is not None:
        at, event_id = page.resume.after
        cursor = encode_cursor(
            [page.resume.node_family, timestamp(at), event_id, list(page.resume.open_nodes)]
        )
    return {
        "nodeSource": page.node_family,
        "items": [step_json(step) for step in page.steps],
        "nextCursor": cursor,
    }


def _page_params(request: Request) -> tuple[int, Resume | None]:
    query = Query(request.query_params, _PARAMS)
    # The usual default page is 100; a path is read whole far more often than paged.
    limit = query.limit() if request.query_params.get("limit") else MAX_LIMIT
    cursor = query.cursor()
    resume = None
    if cursor is not None:
        resume = _resume(cursor)
        if resume is None:
            query.reject_cursor()
    query.check()
    return limit, resume


def _resume(cursor: Any) -> Resume | None:
    if not (isinstance(cursor, list) and len(cursor) == 4):
        return None
    node_family, at, event_id, open_nodes = cursor
    moment = parse_timestamp(at) if isinstance(at, str) else None
    if (
        node_family not in (None, DATA_ACTION, PLATFORM)
        or moment is None
        or not isinstance(event_id, int)
        or isinstance(event_id, bool)
        or not isinstance(open_nodes, list)
        or not all(isinstance(node, str) for node in open_nodes)
    ):
        return None
    return Resume(node_family, (moment, event_id), tuple(open_nodes))
