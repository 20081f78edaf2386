"""What each handler declares about itself: its operation, read by the OpenAPI builder.

Every handler says what it is where it is defined, with :func:`operation`::

    @operation(
        "getLaunch",
        "One launch",
        tag="launches",
        access="read",
        replies={200: Reply("The launch.", LaunchDetail)},
        failures=(LaunchNotFound, STORAGE_UNAVAILABLE),
    )
    async def get_launch(request: Request) -> Response: ...

Schemas are wire models (:mod:`receiver.web.models`) wherever a shape is flowtrack's;
``access`` is enforced from this declaration (:func:`receiver.web.access.guarded`),
never checked again by hand; error answers come from the exception classes listed in
``failures``, with the status the web edge gives their kind.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, Field
from starlette.convertors import StringConvertor, register_url_convertor

from receiver.errors import FlowtrackError
from receiver.web.models import WireModel, json_schema
from receiver.web.pagination import DEFAULT_LIMIT, MAX_LIMIT, InvalidQuery
from receiver.web.responses import RETRY_AFTER_SECONDS, status_of

JSON = dict[str, Any]
Access = Literal["public", "read", "write", "callback"]
# A request handler, or a bare ASGI app (the callback endpoint).
Handler = TypeVar("Handler", bound=Callable[..., Awaitable[Any]])

_SPEC_ATTRIBUTE = "__flowtrack_operation__"


class StoredId(StringConvertor):
    """A path segment that names something stored: ``{launch_id:id}``.

    Any text but ``/`` and NUL. PostgreSQL cannot even compare a string holding NUL, so
    such a path matches no route (404) instead of failing in the database (500).
    """

    regex = "[^/\x00]+"


register_url_convertor("id", StoredId())


# -- schema building blocks -------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Component:
    """A named schema: the document shows it once under ``components/schemas``."""

    name: str
    schema: JSON

    @property
    def ref(self) -> JSON:
        return {"$ref": f"#/components/schemas/{self.name}"}


def _described(schema: JSON, description: str) -> JSON:
    if description:
        schema["description"] = description
    return schema


#: Anything that stands for a schema in a declaration: JSON Schema, a named component,
#: or a wire model class (:mod:`receiver.web.models`).
Schema = JSON | Component | type[BaseModel]


def string(description: str = "", **keywords: Any) -> JSON:
    """A string schema (headers and parameters that no model declares)."""
    return _described({"type": "string", **keywords}, description)


def page_of(item: Schema, description: str = "") -> JSON:
    """A page of a list: ``items`` and the ``nextCursor`` of the next page (null on the last)."""
    schema: JSON = {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": item},
            "nextCursor": {
                "type": ["string", "null"],
                "description": "Pass as `cursor` to get the next page; null on the last page.",
            },
        },
        "required": ["items", "nextCursor"],
        "additionalProperties": False,
    }
    return _described(schema, description)


class Problem(WireModel):
    """One problem with a request, and the field it is about."""

    field: str = Field(description="Path of the field, e.g. `limit` or `[2].occurredAt`.")
    problem: str = Field(description="What is wrong with it.")


PROBLEMS = Component(
    "Problems",
    {
        "type": "array",
        "description": "Every problem found, each with the field it is about.",
        "items": Problem,
    },
)


# -- what a handler declares ------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """A query, path or header parameter."""

    name: str
    location: Literal["query", "path", "header"]
    schema: JSON
    description: str
    required: bool = False


@dataclass(frozen=True)
class Header:
    """A response header."""

    description: str
    schema: JSON = field(default_factory=lambda: {"type": "string"})
    required: bool = False


@dataclass(frozen=True)
class Reply:
    """A response the operation gives on purpose (success, or a non-error answer)."""

    description: str
    schema: Schema | None = None
    media_type: str = "application/json"
    headers: Mapping[str, Header] = field(default_factory=dict)


@dataclass(frozen=True)
class Failure:
    """An error answer: ``status`` with ``{"error": code, "message", "detail"?}``."""

    status: int
    code: str
    description: str
    detail: Schema | None = None
    headers: Mapping[str, Header] = field(default_factory=dict)
    detail_required: bool = True

    @classmethod
    def of(
        cls,
        error: type[FlowtrackError],
        description: str = "",
        *,
        status: int | None = None,
        detail: Schema | None = None,
        detail_required: bool = True,
    ) -> Failure:
        """The failure an exception class stands for (its status and code)."""
        headers = {
            name: Header(f"Sent with every `{error.code}` answer.", required=True)
            for name in getattr(error, "headers", None) or {}
        }
        return cls(
            status if status is not None else status_of(error),
            error.code,
            description or _first_line(error.__doc__) or error.code.replace("_", " "),
            detail,
            headers,
            detail_required,
        )


STORAGE_UNAVAILABLE = Failure(
    503,
    "storage_unavailable",
    "The database is unreachable, locked past the busy timeout, or not migrated; retry.",
    headers={
        "Retry-After": Header(
            f"Seconds to wait before retrying ({RETRY_AFTER_SECONDS}).",
            {"type": "integer", "minimum": 0},
            required=True,
        )
    },
)

INVALID_QUERY = Failure.of(
    InvalidQuery, "A query parameter is unknown or malformed.", detail=PROBLEMS
)

#: A path whose parameter cannot be routed (e.g. it contains ``/``) matches no route.
NO_ROUTE = Failure(404, "not_found", "No endpoint has this path.")


@dataclass(frozen=True)
class Operation:
    """What one handler is, for the OpenAPI document."""

    id: str
    summary: str
    tag: str
    access: Access
    description: str = ""
    parameters: tuple[Param, ...] = ()
    body: Schema | None = None
    body_description: str = ""
    body_required: bool = True
    replies: Mapping[int, Reply] = field(default_factory=dict)
    failures: tuple[type[FlowtrackError] | Failure, ...] = ()


def operation(
    operation_id: str,
    summary: str,
    *,
    tag: str,
    access: Access,
    description: str = "",
    parameters: Sequence[Param] = (),
    body: Schema | None = None,
    body_description: str = "",
    body_required: bool = True,
    replies: Mapping[int, Reply],
    failures: Sequence[type[FlowtrackError] | Failure] = (),
) -> Callable[[Handler], Handler]:
    """Declare the handler's operation; :func:`openapi_document` reads it from its route."""
    spec = Operation(
        operation_id,
        summary,
        tag,
        access,
        description,
        tuple(parameters),
        body,
        body_description,
        body_required,
        dict(replies),
        tuple(failures),
    )

    def attach(handler: Handler) -> Handler:
        setattr(handler, _SPEC_ATTRIBUTE, spec)
        return handler

    return attach


def declared(handler: Any) -> Operation | None:
    """The operation a handler declared, if any."""
    spec = getattr(handler, _SPEC_ATTRIBUTE, None)
    return spec if isinstance(spec, Operation) else None


LIMIT = Param(
    "limit",
    "query",
    {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
    f"Most items on the page (1 to {MAX_LIMIT}, default {DEFAULT_LIMIT}).",
)
CURSOR = Param(
    "cursor", "query", string(), "The `nextCursor` of the previous page (empty: the first page)."
)


_DATE_TIME: JSON = {"type": "string", "format": "date-time"}


def query_params(model: type[BaseModel]) -> tuple[Param, ...]:
    """The query parameters of an endpoint, from the model of its query.

    ``limit`` and ``cursor`` fields stand for the shared :data:`LIMIT` and :data:`CURSOR`.
    """
    schema, _ = json_schema(model, reading=True)
    params = []
    for name, info in model.model_fields.items():
        alias = info.alias or name
        if alias == "limit":
            params.append(LIMIT)
        elif alias == "cursor":
            params.append(CURSOR)
        else:
            described = dict(schema["properties"][alias])
            described.pop("default", None)
            description = described.pop("description", "")
            if "anyOf" in described:  # optional: the parameter is simply left out
                kinds = described.pop("anyOf")
                described |= next(kind for kind in kinds if kind != {"type": "null"})
            if "enum" in described:
                described["enum"] = [value for value in described["enum"] if value is not None]
            params.append(Param(alias, "query", described, description))
    return tuple(params)


def since_until(of: str) -> tuple[Param, Param]:
    """The half-open time range filter ``since`` <= ``of`` < ``until``."""
    return (
        Param("since", "query", _DATE_TIME, f"Only items whose {of} is at or after this time."),
        Param("until", "query", _DATE_TIME, f"Only items whose {of} is before this time."),
    )


def _first_line(text: str | None) -> str:
    return (text or "").strip().split("\n", 1)[0].strip()
