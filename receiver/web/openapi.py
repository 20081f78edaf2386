"""The OpenAPI 3.1 document, assembled from what each handler declares about itself.

:func:`openapi_document` walks the app's routes and builds the document from the
declarations of :mod:`receiver.web.operations`. A route whose handler declares nothing
stops the build, so the document cannot leave out an endpoint, and it cannot describe
one that does not exist.

What the builder derives instead of trusting each declaration to repeat it:

- path parameters from the route's path (declare one only to describe it better). They
  must name a convertor, ``{launch_id:id}`` for ids (``StoredId``): a plain
  ``{launch_id}`` stops the build;
- the security requirement and the 401/403 answers from ``access``;
- error bodies from the exception classes in ``failures``: their status (the web edge's
  table) and ``code`` become a ``{"error", "message", "detail"?}`` schema per status,
  with ``error`` limited to the codes the operation can answer at that status;
- ``components/schemas`` from the wire models and :class:`Component` objects used
  anywhere in a schema.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from importlib import metadata
from typing import Any

from pydantic import BaseModel
from starlette.routing import BaseRoute, Mount, Route

from receiver.web.access import ApiForbidden, ApiUnauthorized
from receiver.web.models import REF_TEMPLATE, RequestModel, json_schema
from receiver.web.operations import (
    JSON,
    NO_ROUTE,
    Access,
    Component,
    Failure,
    Header,
    Operation,
    Param,
    Reply,
    declared,
    string,
)

OPENAPI_VERSION = "3.1.0"
_PATH_PARAMETER = re.compile(r"{([^}:]+)(?::[^}]+)?}")


# -- the document -----------------------------------------------------------------------

TAGS = (
    ("health", "Liveness and readiness probes (no key)."),
    ("callbacks", "Where flows, notifications and EventBridge report flow events."),
    ("events", "Stored events and the bodies that could not be read."),
    ("launches", "Launching flows on Genesys Cloud and following them."),
    ("history", "The path a launch or a conversation took through its flow."),
    ("flows", "The flows flowtrack has seen, and their statistics."),
    ("audit", "Who did what through the API (the name of each write's API key)."),
    ("actions", "Executing Genesys data actions as validated, durable runs."),
    ("webhooks", "Signed messages to your endpoints: launches, flow errors, runs, dead letters."),
    ("tracking", "How flows are followed without editing them: notifications and history."),
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
    # The callback endpoint checks its credentials on the raw body, after reading it,
    # and declares that failure itself.
    "callback": (),
}

DESCRIPTION = """\
flowtrack launches Genesys Cloud Architect flows, receives the callbacks about how they
progress, stores every event and serves each flow's history.

Every answer is JSON. Every error is `{"error": "<code>", "message": "…", "detail": …}`:
`error` is a stable code (listed per status below), `message` says what is wrong,
`detail` (when present) lists each problem. Timestamps are ISO-8601 UTC. Lists use
cursor pagination: `limit` (1 to 1000) and the previous page's `nextCursor` as `cursor`,
with the filters that page was asked with (a cursor used with others is a 400). A query
parameter given twice is a 400, and so is `until` not later than `since`.
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
        described["requestBody"] = {
            "required": spec.body_required,
            "content": {"application/json": {"schema": spec.body}},
        }
        if spec.body_description:
            described["requestBody"]["description"] = spec.body_description
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
    required = ["error", "message"]
    if failure.detail is not None:
        properties["detail"] = failure.detail
        if failure.detail_required:
            required.append("detail")
    name = "".join(part.capitalize() for part in failure.code.split("_"))
    name = name if name.endswith("Error") else name + "Error"
    schema = {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }
    return Component(name, schema)


def _resolve(value: Any, components: dict[str, JSON]) -> Any:
    """Replace components and models by references, collecting their schemas."""
    if isinstance(value, type) and issubclass(value, BaseModel):
        schema, definitions = json_schema(value, reading=issubclass(value, RequestModel))
        for name, definition in definitions.items():
            _collect(name, definition, components)
        _collect(value.__name__, schema, components)
        return {"$ref": REF_TEMPLATE.format(model=value.__name__)}
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


def _collect(name: str, schema: JSON, components: dict[str, JSON]) -> None:
    resolved = _resolve(schema, components)
    known = components.setdefault(name, resolved)
    if known != resolved:
        raise ValueError(f"two different schemas are both named {name!r}")


def _version() -> str:
    try:
        return metadata.version("flowtrack")
    except metadata.PackageNotFoundError:
        return "0.0.0"
