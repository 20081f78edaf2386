"""The OpenAPI 3.1 document, assembled from what each handler declares about itself.

Every handler says what it is where it is defined, with :func:`operation`::

    @operation(
        "getLaunch",
        "One launch",
        tag="launches",
        access="read",
        replies={200: Reply("The launch.", LAUNCH_DETAIL)},
        failures=(LaunchNotFound, STORAGE_UNAVAILABLE),
    )
    async def get_launch(request: Request) -> Response: ...

:func:`openapi_document` walks the app's routes and builds the document from those
declarations. A route whose handler declares nothing stops the build, so the document
cannot leave out an endpoint, and it cannot describe one that does not exist.

What the builder derives instead of trusting each declaration to repeat it:

- path parameters from the route's path (declare one only to describe it better). They
  must name a convertor, ``{launch_id:id}`` for ids (:class:`StoredId`): a plain
  ``{launch_id}`` stops the build;
- the security requirement and the 401/403 answers from ``access``;
- error bodies from the exception classes in ``failures``: their ``status`` and ``code``
  become a ``{"error", "message", "detail"?}`` schema per status, with ``error`` limited
  to the codes the operation can answer at that status;
- ``components/schemas`` from the :class:`Component` objects used anywhere in a schema.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Literal, TypeVar

from starlette.convertors import StringConvertor, register_url_convertor
from starlette.routing import BaseRoute, Mount, Route

from receiver.errors import FlowtrackError
from receiver.ingest.credentials import CallbackUnauthorized
from receiver.web.access import ApiForbidden, ApiUnauthorized
from receiver.web.pagination import DEFAULT_LIMIT, MAX_LIMIT, InvalidQuery
from receiver.web.responses import RETRY_AFTER_SECONDS

JSON = dict[str, Any]
Access = Literal["public", "read", "write", "callback"]
# A request handler, or a bare ASGI app (the callback endpoint).
Handler = TypeVar("Handler", bound=Callable[..., Awaitable[Any]])

OPENAPI_VERSION = "3.1.0"
_SPEC_ATTRIBUTE = "__flowtrack_operation__"
_PATH_PARAMETER = re.compile(r"{([^}:]+)(?::[^}]+)?}")


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


def string(description: str = "", **keywords: Any) -> JSON:
    """A string schema."""
    return _described({"type": "string", **keywords}, description)


def integer(description: str = "", **keywords: Any) -> JSON:
    """An integer schema."""
    return _described({"type": "integer", **keywords}, description)


def date_time(description: str = "") -> JSON:
    """An ISO-8601 UTC timestamp as the API writes them (``2026-03-02T10:15:00.120000Z``)."""
    return string(description, format="date-time")


def nullable(schema: JSON | Component) -> JSON:
    """``schema`` or ``null``."""
    if isinstance(schema, Component):
        return {"anyOf": [schema, {"type": "null"}]}
    kind = schema.get("type")
    if isinstance(kind, str):
        nulled = {**schema, "type": [kind, "null"]}
        if "enum" in nulled:
            nulled["enum"] = [*nulled["enum"], None]
        return nulled
    return {"anyOf": [schema, {"type": "null"}]}


def obj(
    properties: Mapping[str, JSON | Component],
    description: str = "",
    *,
    optional: Iterable[str] = (),
    extra: bool = False,
) -> JSON:
    """An object with exactly these properties, all present unless listed in ``optional``."""
    left_out = set(optional)
    schema: JSON = {
        "type": "object",
        "properties": dict(properties),
        "required": [name for name in properties if name not in left_out],
        "additionalProperties": extra,
    }
    return _described(schema, description)


def page_of(item: JSON | Component, description: str = "") -> JSON:
    """A page of a list: ``items`` and the ``nextCursor`` of the next page (null on the last)."""
    return obj(
        {
            "items": {"type": "array", "items": item},
            "nextCursor": nullable(
                string("Pass as `cursor` to get the next page; null on the last page.")
            ),
        },
        description,
    )


PROBLEMS = Component(
    "Problems",
    {
        "type": "array",
        "description": "Every problem found, each with the field it is about.",
        "items": obj(
            {
                "field": string("Path of the field, e.g. `limit` or `[2].occurredAt`."),
                "problem": string("What is wrong with it."),
            }
        ),
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
    schema: JSON | Component | None = None
    media_type: str = "application/json"
    headers: Mapping[str, Header] = field(default_factory=dict)


@dataclass(frozen=True)
class Failure:
    """An error answer: ``status`` with ``{"error": code, "message", "detail"?}``."""

    status: int
    code: str
    description: str
    detail: JSON | Component | None = None
    headers: Mapping[str, Header] = field(default_factory=dict)
    detail_required: bool = True

    @classmethod
    def of(
        cls,
        error: type[FlowtrackError],
        description: str = "",
        *,
        status: int | None = None,
        detail: JSON | Component | None = None,
        detail_required: bool = True,
    ) -> Failure:
        """The failure an exception class stands for (its status and code)."""
        headers = {
            name: Header(f"Sent with every `{error.code}` answer.", required=True)
            for name in getattr(error, "headers", None) or {}
        }
        return cls(
            status if status is not None else error.status,
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
            integer(minimum=0),
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
    body: JSON | Component | None = None
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
    body: JSON | Component | None = None,
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
    integer(minimum=1, maximum=MAX_LIMIT, default=DEFAULT_LIMIT),
    f"Most items on the page (1 to {MAX_LIMIT}, default {DEFAULT_LIMIT}).",
)
CURSOR = Param(
    "cursor", "query", string(), "The `nextCursor` of the previous page (empty: the first page)."
)


def since_until(of: str) -> tuple[Param, Param]:
    """The half-open time range filter ``since`` <= ``of`` < ``until``."""
    return (
        Param("since", "query", date_time(), f"Only items whose {of} is at or after this time."),
        Param("until", "query", date_time(), f"Only items whose {of} is before this time."),
    )


# -- the document -----------------------------------------------------------------------

TAGS = (
    ("health", "Liveness and readiness probes (no key)."),
    ("callbacks", "Where flows, notifications and EventBridge report flow events."),
    ("events", "Stored events and the bodies that could not be read."),
    ("launches", "Launching flows on Genesys Cloud and following them."),
    ("history", "The path a launch or a conversation took through its flow."),
    ("flows", "The flows flowtrack has seen, and their statistics."),
    ("meta", "This document and its human-readable page (no key)."),
)

SECURITY_SCHEMES: JSON = {
    "apiKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "A key from `FLOWTRACK_API_KEYS` (read-write) or "
        "`FLOWTRACK_API_READ_KEYS` (read-only): `Authorization: Bearer <key>`.",
    },
    "callbackToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "A token from `FLOWTRACK_CALLBACK_TOKENS`: "
        "`Authorization: Bearer <token>` (what the registered data action sends).",
    },
    "callbackTokenHeader": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Flowtrack-Token",
        "description": "The same token in `X-Flowtrack-Token`.",
    },
    "webhookId": {
        "type": "apiKey",
        "in": "header",
        "name": "webhook-id",
        "description": "Standard Webhooks: the message id (also the dedupe identity of "
        "events without an `eventId`).",
    },
    "webhookTimestamp": {
        "type": "apiKey",
        "in": "header",
        "name": "webhook-timestamp",
        "description": "Standard Webhooks: Unix seconds, within "
        "`FLOWTRACK_WEBHOOK_TOLERANCE_SECONDS` of the server's clock.",
    },
    "webhookSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "webhook-signature",
        "description": "Standard Webhooks: space-separated `v1,<base64 HMAC-SHA256 of "
        '"{id}.{timestamp}.{body}">` with a secret from `FLOWTRACK_WEBHOOK_SECRETS`.',
    },
}

_SECURITY: dict[Access, list[JSON]] = {
    "public": [],
    "read": [{"apiKey": []}],
    "write": [{"apiKey": []}],
    "callback": [
        {"callbackToken": []},
        {"callbackTokenHeader": []},
        {"webhookId": [], "webhookTimestamp": [], "webhookSignature": []},
    ],
}

_ACCESS_NOTE: dict[Access, str] = {
    "public": "No key needed.",
    "read": "Needs an API key (read-only or read-write).",
    "write": "Needs a read-write API key; a read-only key gets 403.",
    "callback": "Needs a callback token or a Standard Webhooks signature.",
}

_ACCESS_FAILURES: dict[Access, tuple[Failure, ...]] = {
    "public": (),
    "read": (Failure.of(ApiUnauthorized, "Missing or invalid API key."),),
    "write": (
        Failure.of(ApiUnauthorized, "Missing or invalid API key."),
        Failure.of(ApiForbidden, "The key is read-only."),
    ),
    "callback": (
        Failure.of(CallbackUnauthorized, "Missing or bad credentials; nothing is stored."),
    ),
}

DESCRIPTION = """\
flowtrack launches Genesys Cloud Architect flows, receives the callbacks about how they
progress, stores every event and serves each flow's history.

Every answer is JSON. Every error is `{"error": "<code>", "message": "…", "detail": …}`:
`error` is a stable code (listed per status below), `message` says what is wrong,
`detail` (when present) lists each problem. Timestamps are ISO-8601 UTC. Lists use
cursor pagination: `limit` (1 to 1000) and the previous page's `nextCursor` as `cursor`.
"""


class UndocumentedRoute(Exception):
    """A route's handler declares no operation (decorate it with ``@operation``)."""


def openapi_document(routes: Sequence[BaseRoute]) -> JSON:
    """The OpenAPI document of every route (HEAD, which Starlette adds to GET, aside)."""
    paths: dict[str, JSON] = {}
    missing = []
    for path, method, endpoint in _endpoints(routes, ""):
        spec = declared(endpoint)
        if spec is None:
            missing.append(f"{method} {path} ({getattr(endpoint, '__qualname__', endpoint)})")
            continue
        template = _PATH_PARAMETER.sub(r"{\1}", path)
        plain = [name for name in _PATH_PARAMETER.findall(path) if f"{{{name}}}" in path]
        if plain:
            raise ValueError(
                f"{method} {path}: write path parameters as {{name:id}} (or another "
                f"convertor), not {{name}}: {', '.join(plain)}"
            )
        paths.setdefault(template, {})[method.lower()] = _operation(spec, template)
    if missing:
        raise UndocumentedRoute(
            "routes without an @operation declaration: " + ", ".join(sorted(missing))
        )
    components: dict[str, JSON] = {}
    document = {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "flowtrack",
            "version": _version(),
            "description": DESCRIPTION,
        },
        "tags": [{"name": name, "description": text} for name, text in TAGS],
        "paths": paths,
    }
    resolved: JSON = _resolve(document, components)
    resolved["components"] = {
        "schemas": dict(sorted(components.items())),
        "securitySchemes": SECURITY_SCHEMES,
    }
    return resolved


def routes_of(routes: Sequence[BaseRoute]) -> set[tuple[str, str]]:
    """(method, path template) of every route, as the document names them."""
    return {
        (method, _PATH_PARAMETER.sub(r"{\1}", path)) for path, method, _ in _endpoints(routes, "")
    }


def _endpoints(routes: Sequence[BaseRoute], prefix: str) -> Iterable[tuple[str, str, Any]]:
    for route in routes:
        if isinstance(route, Mount):
            yield from _endpoints(route.routes, prefix + route.path)
        elif isinstance(route, Route):
            for method in sorted(route.methods or ()):
                if method != "HEAD":
                    yield prefix + route.path, method, route.endpoint


def _operation(spec: Operation, template: str) -> JSON:
    parameters = list(spec.parameters)
    declared_names = {(p.location, p.name) for p in parameters}
    path_names = _PATH_PARAMETER.findall(template)
    for name in path_names:
        if ("path", name) not in declared_names:
            parameters.insert(0, Param(name, "path", string(minLength=1), f"The {name}."))
    described: JSON = {
        "operationId": spec.id,
        "summary": spec.summary,
        "description": "\n\n".join(filter(None, (spec.description, _ACCESS_NOTE[spec.access]))),
        "tags": [spec.tag],
        "security": _SECURITY[spec.access],
    }
    if parameters:
        described["parameters"] = [_parameter(p) for p in parameters]
    if spec.body is not None:
        described["requestBody"] = _described(
            {
                "required": spec.body_required,
                "content": {"application/json": {"schema": spec.body}},
            },
            spec.body_description,
        )
    responses: dict[str, JSON] = {}
    for status, reply in sorted(spec.replies.items()):
        responses[str(status)] = _reply(reply)
    failures = [*_ACCESS_FAILURES[spec.access]]
    failures += [f if isinstance(f, Failure) else Failure.of(f) for f in spec.failures]
    if path_names:
        failures.append(NO_ROUTE)
    by_status: dict[int, dict[str, Failure]] = {}
    for failure in failures:
        by_status.setdefault(failure.status, {}).setdefault(failure.code, failure)
    for status, codes in sorted(by_status.items()):
        if str(status) in responses:
            raise ValueError(f"{spec.id}: status {status} is both a reply and a failure")
        responses[str(status)] = _failures(list(codes.values()))
    described["responses"] = dict(sorted(responses.items()))
    return described


def _parameter(param: Param) -> JSON:
    return {
        "name": param.name,
        "in": param.location,
        "required": param.required or param.location == "path",
        "description": param.description,
        "schema": param.schema,
    }


def _reply(reply: Reply) -> JSON:
    described: JSON = {"description": reply.description}
    if reply.headers:
        described["headers"] = {name: _header(h) for name, h in reply.headers.items()}
    if reply.schema is not None:
        described["content"] = {reply.media_type: {"schema": reply.schema}}
    return described


def _header(header: Header) -> JSON:
    return {"description": header.description, "required": header.required, "schema": header.schema}


def _failures(failures: list[Failure]) -> JSON:
    bodies = [_error_body(failure) for failure in failures]
    headers: dict[str, JSON] = {}
    for failure in failures:
        for name, header in failure.headers.items():
            # A header only some of the codes send cannot be required of the status.
            required = header.required and all(name in f.headers for f in failures)
            headers[name] = _header(Header(header.description, header.schema, required))
    described: JSON = {
        "description": " ".join(f"`{f.code}`: {f.description}" for f in failures),
        "content": {
            "application/json": {"schema": bodies[0] if len(bodies) == 1 else {"anyOf": bodies}}
        },
    }
    if headers:
        described["headers"] = headers
    return described


def _error_body(failure: Failure) -> Component:
    properties: JSON = {
        "error": {"const": failure.code, "type": "string"},
        "message": string("What is wrong, in words."),
    }
    optional: tuple[str, ...] = ()
    if failure.detail is not None:
        properties["detail"] = failure.detail
        optional = () if failure.detail_required else ("detail",)
    name = "".join(part.capitalize() for part in failure.code.split("_"))
    name = name if name.endswith("Error") else name + "Error"
    return Component(name, obj(properties, optional=optional))


def _resolve(value: Any, components: dict[str, JSON]) -> Any:
    """Replace components by references, collecting their schemas."""
    if isinstance(value, Component):
        known = components.get(value.name)
        if known is None:
            components[value.name] = {}  # reserve the name: schemas may refer to themselves
            components[value.name] = _resolve(value.schema, components)
        elif known and known != _resolve(value.schema, {}):
            raise ValueError(f"two different schemas are both named {value.name!r}")
        return value.ref
    if isinstance(value, dict):
        return {key: _resolve(item, components) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_resolve(item, components) for item in value]
    return value


def _first_line(text: str | None) -> str:
    return (text or "").strip().split("\n", 1)[0].strip()


def _version() -> str:
    try:
        return metadata.version("flowtrack")
    except metadata.PackageNotFoundError:
        return "0.0.0"
