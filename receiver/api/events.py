"""The read side of the REST API under ``/api/v1``: events and dead letters."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from receiver.ingest.canonical import KINDS
from receiver.resources import services
from receiver.web.openapi import (
    CURSOR,
    INVALID_QUERY,
    LIMIT,
    PROBLEMS,
    STORAGE_UNAVAILABLE,
    Component,
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
from storage.queries import EventFilter, list_dead_letters, list_events

_EVENT_PARAMS = (
    "conversationId",
    "flowExecutionId",
    "launchId",
    "flowId",
    "kind",
    "since",
    "until",
    "limit",
    "cursor",
)

# Where each source is set: receiver.ingest.canonical, receiver.ingest.payloads (notification,
# eventbridge), storage.launches.OWN_SOURCE and receiver.launches.sweep (status_poll).
EVENT_SOURCES = ("data_action", "notification", "eventbridge", "flowtrack", "status_poll")


def _text(description: str) -> dict[str, Any]:
    return nullable(string(description))


EVENT = Component(
    "Event",
    obj(
        {
            "id": integer("Arrival order."),
            "kind": string("What happened.", enum=list(KINDS)),
            "source": string(
                "Who reported it: a flow's data action, a notification (WebSocket), "
                "EventBridge, flowtrack itself, or flowtrack's status poll of the platform.",
                enum=list(EVENT_SOURCES),
            ),
            "occurredAt": date_time(
                "When it happened (when it arrived, if the sender did not say)."
            ),
            "receivedAt": date_time("When flowtrack received it."),
            "launchId": _text("The launch it belongs to, once known."),
            "flowExecutionId": _text("The flow execution id."),
            "conversationId": _text("The conversation id."),
            "flowId": _text("The flow id."),
            "flowVersion": _text("The flow version."),
            "nodeId": _text("The node (step) id."),
            "nodeType": _text("The node type."),
            "nodeName": _text("The node name."),
            "outputPath": _text("The path the node left by."),
            "outcome": _text("The outcome (`completed`, `failed`, `terminated`, `timed_out`, …)."),
            "errorCode": _text("The error code."),
            "errorMessage": _text("The error message."),
            "dedupeKey": string("The dedupe key (hex).", pattern="^[0-9a-f]{32}$"),
            "raw": {"type": "object", "description": "The payload as received."},
        },
        "One stored flow event.",
    ),
)

DEAD_LETTER = Component(
    "DeadLetter",
    obj(
        {
            "id": integer(),
            "receivedAt": date_time(),
            "reason": string("Why the body could not be read (the 422's message)."),
            "errors": PROBLEMS,
            "webhookId": _text("The `webhook-id` header of the delivery, if any."),
            "body": {"description": "The body as received (any JSON)."},
        },
        "A callback body that was valid JSON but could not be read as events.",
    ),
)


@operation(
    "listEvents",
    "Stored events in history order",
    tag="events",
    access="read",
    description="Ordered by `occurredAt`, then arrival. Every filter given must match.",
    parameters=(
        Param("conversationId", "query", string(), "Only events of this conversation."),
        Param("flowExecutionId", "query", string(), "Only events of this flow execution."),
        Param("launchId", "query", string(), "Only events of this launch."),
        Param("flowId", "query", string(), "Only events of this flow."),
        Param("kind", "query", string(enum=list(KINDS)), "Only events of this kind."),
        *since_until("occurredAt"),
        LIMIT,
        CURSOR,
    ),
    replies={200: Reply("A page of events.", page_of(EVENT))},
    failures=(INVALID_QUERY, STORAGE_UNAVAILABLE),
)
async def get_events(request: Request) -> Response:
    """``GET /api/v1/events``: stored events, filtered, in history order, paginated."""
    found = services(request)
    found.api_keys.require(request)
    query = Query(request.query_params, _EVENT_PARAMS)
    where = EventFilter(
        conversation_id=query.text("conversationId"),
        flow_execution_id=query.text("flowExecutionId"),
        launch_id=query.text("launchId"),
        flow_id=query.text("flowId"),
        kind=query.text("kind", KINDS),
        since=query.timestamp("since"),
        until=query.timestamp("until"),
    )
    limit = query.limit()
    after = query.position_cursor(int)
    query.check()
    rows = await run_in_threadpool(list_events, found.engine, where, after=after, limit=limit + 1)
    return JSONResponse(
        page(rows, limit, event_json, lambda last: [timestamp(last["occurred_at"]), last["id"]])
    )


@operation(
    "listDeadLetters",
    "Callback bodies that could not be interpreted, newest first",
    tag="events",
    access="read",
    parameters=(LIMIT, CURSOR),
    replies={200: Reply("A page of dead letters.", page_of(DEAD_LETTER))},
    failures=(INVALID_QUERY, STORAGE_UNAVAILABLE),
)
async def get_dead_letters(request: Request) -> Response:
    """``GET /api/v1/dead-letters``: bodies that could not be interpreted, newest first."""
    found = services(request)
    found.api_keys.require(request)
    query = Query(request.query_params, ("limit", "cursor"))
    limit = query.limit()
    before = query.scalar_cursor(int)
    query.check()
    rows = await run_in_threadpool(list_dead_letters, found.engine, before=before, limit=limit + 1)
    return JSONResponse(page(rows, limit, _dead_letter_json, lambda last: last["id"]))


def _dead_letter_json(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "receivedAt": timestamp(row["received_at"]),
        "reason": row["reason"],
        "errors": orjson.Fragment(row["errors"]),
        "webhookId": row["webhook_id"],
        "body": orjson.Fragment(row["body"]),
    }


def event_json(row: Any) -> dict[str, Any]:
    """One stored event as the API shows it (camelCase, ISO-8601 UTC, raw payload inline)."""
    return {
        "id": row["id"],
        "kind": row["kind"],
        "source": row["source"],
        "occurredAt": timestamp(row["occurred_at"]),
        "receivedAt": timestamp(row["received_at"]),
        "launchId": row["launch_id"],
        "flowExecutionId": row["flow_execution_id"],
        "conversationId": row["conversation_id"],
        "flowId": row["flow_id"],
        "flowVersion": row["flow_version"],
        "nodeId": row["node_id"],
        "nodeType": row["node_type"],
        "nodeName": row["node_name"],
        "outputPath": row["output_path"],
        "outcome": row["outcome"],
        "errorCode": row["error_code"],
        "errorMessage": row["error_message"],
        "dedupeKey": row["dedupe_key"].hex(),
        "raw": orjson.Fragment(row["raw"]),
    }
