"""Transition histories over the REST API: the path a launch or a conversation took.

``GET /api/v1/launches/{id}/transitions`` and
``GET /api/v1/conversations/{conversationId}/transitions`` answer the steps of the path
(storage.visits says how events become steps), a page at a time. A page holds up to
``limit`` steps (default and most: 1000, so a normal history is one page).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from receiver.errors import NotFound
from receiver.fields import parse_timestamp
from receiver.launches.service import LaunchNotFound
from receiver.resources import services
from receiver.web.models import RequestModel, Timestamp, WireModel, one_of, render, timestamp
from receiver.web.operations import (
    CURSOR,
    INVALID_QUERY,
    STORAGE_UNAVAILABLE,
    Param,
    Reply,
    operation,
    string,
)
from receiver.web.pagination import MAX_LIMIT, Query
from receiver.web.responses import JSONResponse
from storage.history import Resume, TransitionPage
from storage.visits import Step as ComputedStep
from storage.vocabulary import DATA_ACTION, PLATFORM, SOURCES, STATES


class ConversationNotFound(NotFound):
    """No event of this conversation is stored."""

    code = "conversation_not_found"


class Step(WireModel):
    """One step of the path."""

    type: str = Field(
        description="`node` (a node visit), `start`, `error`, `complete`, `milestone`, "
        "`outcome`, or `node_enter` / `node_exit` for node events naming no node."
    )
    at: Timestamp = Field(description="Where the step begins.")
    node_id: str | None
    node_type: str | None
    node_name: str | None
    entered_at: Timestamp | None
    exited_at: Timestamp | None
    duration_ms: float | None = Field(ge=0)
    output_path: str | None
    outcome: str | None = Field(
        description="Of a visit: `exited`, `errored`, `open` (still inside), `missing_enter`, "
        "`missing_exit`; of a completion: the flow's outcome."
    )
    error_code: str | None
    error_message: str | None
    source: str = one_of(SOURCES)
    flow_id: str | None
    event_ids: list[int] = Field(description="Its events.")

    @classmethod
    def of(cls, step: ComputedStep) -> Step:
        """The API's view of a computed step (every step has every field)."""
        duration = None
        if step.entered_at is not None and step.exited_at is not None:
            duration = round((step.exited_at - step.entered_at).total_seconds() * 1000, 3)
        return cls.model_construct(
            type=step.type,
            at=step.at,
            node_id=step.node_id,
            node_type=step.node_type,
            node_name=step.node_name,
            entered_at=step.entered_at,
            exited_at=step.exited_at,
            duration_ms=duration,
            output_path=step.output_path,
            outcome=step.outcome,
            error_code=step.error_code,
            error_message=step.error_message,
            source=step.source,
            flow_id=step.flow_id,
            event_ids=step.event_ids,
        )


class PathPage(WireModel):
    """A page of a path."""

    node_source: str | None = one_of(
        (DATA_ACTION, PLATFORM),
        "Where node events come from: the flow's own data action reports, or the "
        "platform's (null: no node events).",
        nullable=True,
    )
    items: list[Step]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last."
    )


class LaunchPath(PathPage):
    """A launch's path, a page at a time."""

    launch_id: str
    flow_id: str
    state: str = one_of(STATES)
    flow_execution_id: str | None
    conversation_id: str | None


class ConversationPath(PathPage):
    """A conversation's path, a page at a time."""

    conversation_id: str


class PathQuery(RequestModel):
    """A path's pages (``limit`` defaults to the most: a path is read whole more often)."""

    limit: int = 0
    cursor: str | None = None


_PAGE_PARAMS = (
    Param(
        "limit",
        "query",
        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": MAX_LIMIT},
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
    replies={200: Reply("The path, a page at a time.", LaunchPath)},
    failures=(INVALID_QUERY, LaunchNotFound, STORAGE_UNAVAILABLE),
)
async def get_launch_transitions(request: Request) -> Response:
    """``GET /api/v1/launches/{launch_id}/transitions``: the launch's path (its events)."""
    found = services(request)
    launch_id = request.path_params["launch_id"]
    limit, resume, query = _page_params(request)
    launch, page = await found.history_store.launch_transitions(
        launch_id, limit=limit, resume=resume
    )
    if launch is None:
        raise LaunchNotFound(f"no launch {launch_id!r}")
    path = LaunchPath.model_construct(
        launch_id=launch_id,
        flow_id=launch["flow_id"],
        state=launch["state"],
        flow_execution_id=launch["flow_execution_id"],
        conversation_id=launch["conversation_id"],
        **_page_fields(page, query),
    )
    return JSONResponse(render(path))


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
    replies={200: Reply("The path, a page at a time.", ConversationPath)},
    failures=(INVALID_QUERY, ConversationNotFound, STORAGE_UNAVAILABLE),
)
async def get_conversation_transitions(request: Request) -> Response:
    """``GET /api/v1/conversations/{conversation_id}/transitions``: its events' path."""
    found = services(request)
    conversation_id = request.path_params["conversation_id"]
    limit, resume, query = _page_params(request)
    page = await found.history_store.transitions(
        "conversation_id", conversation_id, limit=limit, resume=resume
    )
    if page is None:
        raise ConversationNotFound(f"no events of conversation {conversation_id!r}")
    path = ConversationPath.model_construct(
        conversation_id=conversation_id, **_page_fields(page, query)
    )
    return JSONResponse(render(path))


def step_json(step: ComputedStep) -> dict[str, Any]:
    """One step of a path as the API shows it."""
    return render(Step.of(step))


def _page_fields(page: TransitionPage | None, query: Query[PathQuery]) -> dict[str, Any]:
    if page is None:  # a launch with no events yet
        return {"node_source": None, "items": [], "next_cursor": None}
    cursor = None
    if page.resume is not None:
        at, event_id = page.resume.after
        cursor = query.encode(
            [page.resume.node_family, timestamp(at), event_id, list(page.resume.open_nodes)]
        )
    items = [Step.of(step) for step in page.steps]
    return {"node_source": page.node_family, "items": items, "next_cursor": cursor}


def _page_params(request: Request) -> tuple[int, Resume | None, Query[PathQuery]]:
    # Bound to the path: a cursor of one launch's path must not page another's.
    query: Query[PathQuery] = Query.of(request.query_params, PathQuery, request.url.path)
    # The usual default page is 100; a path is read whole far more often than paged.
    limit = query.values.limit if request.query_params.get("limit") else MAX_LIMIT
    cursor = query.cursor()
    resume = None
    if cursor is not None:
        resume = _resume(cursor)
        if resume is None:
            query.reject_cursor()
    query.check()
    return limit, resume, query


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
