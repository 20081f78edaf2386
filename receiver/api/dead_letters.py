"""Dead letters over the REST API: ``GET /api/v1/dead-letters``."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from pydantic import Field, WithJsonSchema
from starlette.requests import Request
from starlette.responses import Response

from receiver.resources import services
from receiver.web.models import RequestModel, Timestamp, WireModel, json_schema, render
from receiver.web.operations import (
    INVALID_QUERY,
    STORAGE_UNAVAILABLE,
    Problem,
    Reply,
    operation,
    page_of,
    query_params,
)
from receiver.web.pagination import Query, page
from receiver.web.responses import JSONResponse


class DeadLetter(WireModel):
    """A callback body that was valid JSON but could not be read as events."""

    id: int
    received_at: Timestamp
    reason: str = Field(description="Why the body could not be read (the 422's message).")
    # Kept as stored (the 422's detail), written out unparsed.
    errors: Annotated[Any, WithJsonSchema({"type": "array", "items": json_schema(Problem)[0]})] = (
        Field(description="Every problem found, each with the field it is about.")
    )
    webhook_id: str | None = Field(description="The `webhook-id` header of the delivery, if any.")
    body: Annotated[Any, Field(description="The body as received (any JSON).")]

    @classmethod
    def of(cls, row: Any) -> DeadLetter:
        """The dead letter of a stored row."""
        return cls.model_construct(
            id=row["id"],
            received_at=row["received_at"],
            reason=row["reason"],
            errors=orjson.Fragment(row["errors"]),
            webhook_id=row["webhook_id"],
            body=orjson.Fragment(row["body"]),
        )


class DeadLetterQuery(RequestModel):
    """``GET /api/v1/dead-letters`` pages only."""

    limit: int = 0
    cursor: str | None = None


@operation(
    "listDeadLetters",
    "Callback bodies that could not be interpreted, newest first",
    tag="events",
    access="read",
    parameters=query_params(DeadLetterQuery),
    replies={200: Reply("A page of dead letters.", page_of(DeadLetter))},
    failures=(INVALID_QUERY, STORAGE_UNAVAILABLE),
)
async def get_dead_letters(request: Request) -> Response:
    """``GET /api/v1/dead-letters``: bodies that could not be interpreted, newest first."""
    found = services(request)
    query = Query.of(request.query_params, DeadLetterQuery)
    limit = query.values.limit
    before = query.scalar_cursor(int)
    query.check()
    rows = await found.event_store.list_dead_letters(before=before, limit=limit + 1)
    return JSONResponse(
        page(rows, limit, lambda row: render(DeadLetter.of(row)), lambda last: last["id"], query)
    )
