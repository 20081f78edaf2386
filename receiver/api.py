"""The read side of the REST API under ``/api/v1``: events and dead letters."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from receiver.canonical import KINDS
from receiver.fields import parse_timestamp
from receiver.pagination import Query, encode_cursor
from receiver.responses import JSONResponse, timestamp
from receiver.services import services
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
    after = _event_position(query)
    query.check()
    rows = await run_in_threadpool(list_events, found.engine, where, after=after, limit=limit + 1)
    items = [event_json(row) for row in rows[:limit]]
    cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        cursor = encode_cursor([timestamp(last["occurred_at"]), last["id"]])
    return JSONResponse({"items": items, "nextCursor": cursor})


async def get_dead_letters(request: Request) -> Response:
    """``GET /api/v1/dead-letters``: bodies that could not be interpreted, newest first."""
    found = services(request)
    found.api_keys.require(request)
    query = Query(request.query_params, ("limit", "cursor"))
    limit = query.limit()
    before = query.cursor()
    if before is not None and not isinstance(before, int):
        query.reject_cursor()
        before = None
    query.check()
    rows = await run_in_threadpool(list_dead_letters, found.engine, before=before, limit=limit + 1)
    items = [
        {
            "id": row["id"],
            "receivedAt": timestamp(row["received_at"]),
            "reason": row["reason"],
            "errors": orjson.Fragment(row["errors"]),
            "webhookId": row["webhook_id"],
            "body": orjson.Fragment(row["body"]),
        }
        for row in rows[:limit]
    ]
    cursor = encode_cursor(rows[limit - 1]["id"]) if len(rows) > limit else None
    return JSONResponse({"items": items, "nextCursor": cursor})


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


def _event_position(query: Query) -> Any:
    cursor = query.cursor()
    if cursor is None:
        return None
    if (
        isinstance(cursor, list)
        and len(cursor) == 2
        and isinstance(cursor[0], str)
        and isinstance(cursor[1], int)
    ):
        at = parse_timestamp(cursor[0])
        if at is not None:
            return (at, cursor[1])
    query.reject_cursor()
    return None
