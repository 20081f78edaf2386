"""Stored events over the REST API: ``GET /api/v1/events``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import orjson
from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from receiver.resources import services
from receiver.web.models import RequestModel, Timestamp, WireModel, one_of, raw_json, render
from receiver.web.models import timestamp as timestamp_text
from receiver.web.operations import (
    INVALID_QUERY,
    STORAGE_UNAVAILABLE,
    Reply,
    operation,
    page_of,
    query_params,
)
from receiver.web.pagination import Query, page
from receiver.web.responses import JSONResponse
from storage.queries import EventFilter
from storage.vocabulary import KINDS, SOURCES


class Event(WireModel):
    """One stored flow event."""

    id: int = Field(description="Arrival order.")
    kind: str = one_of(KINDS, "What happened.")
    source: str = one_of(
        SOURCES,
        "Who reported it: a flow's data action, a notification (WebSocket), EventBridge, "
        "flowtrack itself, or flowtrack's status poll of the platform.",
    )
    occurred_at: Timestamp = Field(
        description="When it happened (when it arrived, if the sender did not say)."
    )
    received_at: Timestamp = Field(description="When flowtrack received it.")
    launch_id: str | None = Field(description="The launch it belongs to, once known.")
    flow_execution_id: str | None = Field(description="The flow execution id.")
    conversation_id: str | None = Field(description="The conversation id.")
    flow_id: str | None = Field(description="The flow id.")
    flow_version: str | None = Field(description="The flow version.")
    node_id: str | None = Field(description="The node (step) id.")
    node_type: str | None = Field(description="The node type.")
    node_name: str | None = Field(description="The node name.")
    output_path: str | None = Field(description="The path the node left by.")
    outcome: str | None = Field(
        description="The outcome (`completed`, `failed`, `terminated`, `timed_out`, …)."
    )
    error_code: str | None = Field(description="The error code.")
    error_message: str | None = Field(description="The error message.")
    dedupe_key: str = Field(description="The dedupe key (hex).", pattern="^[0-9a-f]{32}$")
    raw: Annotated[Any, raw_json("The payload as received.")]

    @classmethod
    def of(cls, row: Any) -> Event:
        """The event of a stored row."""
        return cls.model_construct(
            id=row["id"],
            kind=row["kind"],
            source=row["source"],
            occurred_at=row["occurred_at"],
            received_at=row["received_at"],
            launch_id=row["launch_id"],
            flow_execution_id=row["flow_execution_id"],
            conversation_id=row["conversation_id"],
            flow_id=row["flow_id"],
            flow_version=row["flow_version"],
            node_id=row["node_id"],
            node_type=row["node_type"],
            node_name=row["node_name"],
            output_path=row["output_path"],
            outcome=row["outcome"],
            error_code=row["error_code"],
            error_message=row["error_message"],
            dedupe_key=row["dedupe_key"].hex(),
            raw=orjson.Fragment(row["raw"]),
        )


def event_json(row: Any) -> dict[str, Any]:
    """One stored event as the API writes it."""
    return render(Event.of(row))


class EventQuery(RequestModel):
    """The filters of ``GET /api/v1/events``; every filter given must match."""

    conversation_id: str | None = Field(None, description="Only events of this conversation.")
    flow_execution_id: str | None = Field(None, description="Only events of this flow execution.")
    launch_id: str | None = Field(None, description="Only events of this launch.")
    flow_id: str | None = Field(None, description="Only events of this flow.")
    kind: str | None = one_of(KINDS, "Only events of this kind.", nullable=True)
    since: datetime | None = Field(
        None, description="Only items whose occurredAt is at or after this time."
    )
    until: datetime | None = Field(
        None, description="Only items whose occurredAt is before this time."
    )
    limit: int = 0
    cursor: str | None = None


@operation(
    "listEvents",
    "Stored events in history order",
    tag="events",
    access="read",
    description="Ordered by `occurredAt`, then arrival. Every filter given must match.",
    parameters=query_params(EventQuery),
    replies={200: Reply("A page of events.", page_of(Event))},
    failures=(INVALID_QUERY, STORAGE_UNAVAILABLE),
)
async def get_events(request: Request) -> Response:
    """``GET /api/v1/events``: stored events, filtered, in history order, paginated."""
    found = services(request)
    query = Query.of(request.query_params, EventQuery)
    asked = query.values
    where = query.filter(EventFilter)
    after = query.position_cursor(int)
    query.check()
    rows = await found.event_store.list(where, after=after, limit=asked.limit + 1)
    return JSONResponse(
        page(
            rows,
            asked.limit,
            event_json,
            lambda last: [timestamp_text(last["occurred_at"]), last["id"]],
            query,
        )
    )
