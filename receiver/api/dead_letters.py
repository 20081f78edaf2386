"""Dead letters over the REST API: listed, and replayed once the reader is fixed."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from pydantic import Field, WithJsonSchema
from starlette.requests import Request
from starlette.responses import Response

from receiver.api.audit import audited
from receiver.errors import InvalidRequest, NotFound
from receiver.ingest.payloads import UninterpretableBody, read_payload
from receiver.resources import services
from receiver.web.models import RequestModel, Timestamp, WireModel, json_schema, render
from receiver.web.operations import (
    INVALID_QUERY,
    PROBLEMS,
    STORAGE_UNAVAILABLE,
    Failure,
    Param,
    Problem,
    Reply,
    operation,
    page_of,
    query_params,
)
from receiver.web.pagination import Query, page
from receiver.web.responses import JSONResponse
from storage.audit import COMPLETED, DEAD_LETTER_REPLAY, REFUSED


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


class DeadLetterNotFound(NotFound):
    """No dead letter has this id."""

    code = "dead_letter_not_found"


class StillUninterpretable(InvalidRequest):
    """Today's code cannot read the stored body either; ``detail`` lists each problem."""

    code = "still_uninterpretable"


class Replay(WireModel):
    """What replaying a dead letter stored."""

    dead_letter_id: int
    accepted: int = Field(description="Events stored now.", ge=0)
    duplicates: int = Field(
        description="Events stored before: by an earlier replay, or delivered again since.",
        ge=0,
    )


@operation(
    "replayDeadLetter",
    "Read a dead letter again with today's code, and store its events",
    tag="events",
    access="write",
    description="For a body refused by a reader that has since been fixed. The body is read "
    "as if it arrived again at its original time with its original `webhook-id`, so the "
    "events get the dedupe keys they would have had: replaying twice, or replaying what "
    "was delivered again since, stores nothing twice. The dead letter is kept.",
    parameters=(Param("letter_id", "path", {"type": "integer"}, "The dead letter's id."),),
    replies={200: Reply("The events are committed.", Replay)},
    failures=(
        DeadLetterNotFound,
        Failure.of(StillUninterpretable, detail=PROBLEMS),
        STORAGE_UNAVAILABLE,
    ),
)
async def replay_dead_letter(request: Request) -> Response:
    """``POST /api/v1/dead-letters/{id}/replay``: read it again; store what reads now."""
    found = services(request)
    letter_id = request.path_params["letter_id"]
    letter = await found.event_store.get_dead_letter(letter_id)
    if letter is None:
        await audited(request, DEAD_LETTER_REPLAY, str(letter_id), REFUSED, "no such dead letter")
        raise DeadLetterNotFound(f"no dead letter {letter_id}")
    body = letter["body"].encode()
    try:
        events = read_payload(
            orjson.loads(body),
            body=body,
            received_at=letter["received_at"],
            webhook_id=letter["webhook_id"],
        )
    except UninterpretableBody as exc:
        await audited(request, DEAD_LETTER_REPLAY, str(letter_id), REFUSED, exc.message)
        raise StillUninterpretable(exc.message, detail=exc.errors) from None
    result = await found.writer.write(events)
    detail = f"{result.accepted} stored, {result.duplicates} already stored"
    await audited(request, DEAD_LETTER_REPLAY, str(letter_id), COMPLETED, detail)
    replay = Replay.model_construct(
        dead_letter_id=letter_id, accepted=result.accepted, duplicates=result.duplicates
    )
    return JSONResponse(render(replay))
