"""Webhook endpoints over the REST API: ``/api/v1/webhook-endpoints``.

An endpoint is a URL, the event types it subscribes to and, optionally, the flows it
cares about. Its signing secret is shown once, when it is created or rotated.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from pydantic import BaseModel, Field, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from receiver.api.audit import audited, origin_of, refusals_audited
from receiver.api.bodies import MalformedJSON, UnsupportedMediaType, json_body
from receiver.errors import InvalidRequest, NotFound
from receiver.resources import services
from receiver.web.models import RequestModel, Timestamp, WireModel, problems_of, render, timestamp
from receiver.web.operations import (
    INVALID_QUERY,
    PROBLEMS,
    STORAGE_UNAVAILABLE,
    Failure,
    Header,
    Param,
    Reply,
    operation,
    page_of,
    query_params,
    string,
)
from receiver.web.pagination import Query, page
from receiver.web.responses import JSONResponse
from receiver.webhooks import signing
from receiver.webhooks.addresses import InvalidWebhookUrl, check_endpoint_url
from storage import audit
from storage.outbox import EVENT_TYPES, new_message_id

_NoNul = r"^[^\x00]*$"
TAG = "webhooks"
MAX_FLOWS = 100


class WebhookEndpoint(WireModel):
    """Where flowtrack sends signed messages, and which."""

    id: str = Field(description="The endpoint's id (`ep_…`).")
    url: str
    description: str | None
    event_types: list[str] = Field(description="The event types it receives.")
    flow_ids: list[str] | None = Field(description="Only events of these flows (null: all).")
    enabled: bool
    disabled_reason: str | None = Field(
        description="Why it was disabled (410 Gone, failing too long); null when enabled."
    )
    failing_since: Timestamp | None = Field(
        description="The first failed attempt since the last delivered one."
    )
    previous_secret_valid_until: Timestamp | None = Field(
        description="After a rotation: until when the old secret still signs too."
    )
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def fields_of(cls, row: Any) -> dict[str, Any]:
        until = row["previous_secret_until"]
        if until is not None and until <= datetime.now(UTC):
            until = None
        return {
            "id": row["id"],
            "url": row["url"],
            "description": row["description"],
            "event_types": orjson.loads(row["event_types"]),
            "flow_ids": orjson.loads(row["flow_ids"]) if row["flow_ids"] else None,
            "enabled": bool(row["enabled"]),
            "disabled_reason": row["disabled_reason"],
            "failing_since": row["failing_since"],
            "previous_secret_valid_until": until,
            "created_at": row["created_at"],
            "updated_at": row["updated_at"],
        }

    @classmethod
    def of(cls, row: Any) -> WebhookEndpoint:
        return cls.model_construct(**cls.fields_of(row))


class CreatedWebhookEndpoint(WebhookEndpoint):
    """A new endpoint, with its signing secret: shown this once."""

    secret: str = Field(description="`whsec_…`: verify each message's `webhook-signature`.")


def _types_field(default: Any) -> Any:
    return Field(
        default,
        min_length=1,
        description="Event types to receive (see `GET /api/v1/webhook-event-types`).",
        json_schema_extra={"items": {"type": "string", "enum": list(EVENT_TYPES)}},
    )


def _flows_field() -> Any:
    return Field(
        None,
        max_length=MAX_FLOWS,
        description="Only events of these flows (absent or null: every flow).",
    )


class NewWebhookEndpoint(RequestModel):
    """An endpoint to create."""

    url: str = Field(
        description="An https URL, with no credentials in it (see docs/webhooks.md).", min_length=1
    )
    event_types: list[str] = _types_field(...)
    description: str | None = Field(None, max_length=255, pattern=_NoNul)
    flow_ids: list[str] | None = _flows_field()


class WebhookEndpointChange(RequestModel):
    """What to change; fields left out stay as they are."""

    url: str | None = Field(None, min_length=1)
    event_types: list[str] | None = _types_field(None)
    description: str | None = Field(None, max_length=255, pattern=_NoNul)
    flow_ids: list[str] | None = _flows_field()
    enabled: bool | None = Field(
        None, description="`true` enables it again (forgetting why it was disabled)."
    )


class RotatedSecret(WireModel):
    """The endpoint's new signing secret: shown this once."""

    id: str
    secret: str = Field(description="`whsec_…`: signs every message from now on.")
    previous_secret_valid_until: Timestamp = Field(
        description="Until then the old secret signs each message too (two signatures)."
    )


class WebhookEndpointNotFound(NotFound):
    """No webhook endpoint has this id."""

    code = "webhook_endpoint_not_found"


class InvalidWebhookEndpoint(InvalidRequest):
    """The endpoint's description is invalid; ``detail`` lists each problem."""

    code = "invalid_webhook_endpoint"


class EndpointQuery(RequestModel):
    """``GET /api/v1/webhook-endpoints`` pages only."""

    limit: int = 0
    cursor: str | None = None


ENDPOINT_ID = Param("endpoint_id", "path", string(minLength=1), "The endpoint's id (`ep_…`).")
BODY_FAILURES = (
    Failure.of(InvalidWebhookEndpoint, detail=PROBLEMS),
    Failure.of(InvalidWebhookUrl, detail=PROBLEMS),
    MalformedJSON,
    UnsupportedMediaType,
)


def _validated(decoded: Any, model: type[BaseModel]) -> Any:
    if not isinstance(decoded, dict):
        raise InvalidWebhookEndpoint(
            "the body must be a JSON object", detail=[{"field": "body", "problem": "not an object"}]
        )
    try:
        values = model.model_validate(decoded)
    except ValidationError as exc:
        problems = problems_of(exc, model)
        raise InvalidWebhookEndpoint(
            f"{problems[0]['field']}: {problems[0]['problem']}", detail=problems
        ) from None
    problems = []
    for index, name in enumerate(getattr(values, "event_types", None) or ()):
        if name not in EVENT_TYPES:
            problems.append(
                {"field": f"eventTypes[{index}]", "problem": f"unknown event type {name!r}"}
            )
    for index, flow in enumerate(getattr(values, "flow_ids", None) or ()):
        if not re.fullmatch(r"[^\x00,]{1,128}", flow):
            problems.append({"field": f"flowIds[{index}]", "problem": "must be a flow id"})
    if problems:
        raise InvalidWebhookEndpoint(
            f"{problems[0]['field']}: {problems[0]['problem']}", detail=problems
        )
    return values


def _json_list(values: list[str] | None) -> str | None:
    return None if values is None else orjson.dumps(sorted(set(values))).decode()


@operation(
    "createWebhookEndpoint",
    "Subscribe a URL to event types",
    tag=TAG,
    access="write",
    description="Answers with the endpoint and its signing secret, shown only this once. "
    "The URL's host must resolve to public addresses (see docs/webhooks.md).",
    body=NewWebhookEndpoint,
    replies={
        201: Reply(
            "Created.",
            CreatedWebhookEndpoint,
            headers={"Location": Header("The endpoint's URL.", required=True)},
        )
    },
    failures=(*BODY_FAILURES, STORAGE_UNAVAILABLE),
)
async def post_endpoint(request: Request) -> Response:
    """``POST /api/v1/webhook-endpoints``: 201 with the endpoint and its secret."""
    found = services(request).webhooks
    new: NewWebhookEndpoint = _validated(await json_body(request), NewWebhookEndpoint)
    async with refusals_audited(request, audit.WEBHOOK_ENDPOINT_CREATE, None, InvalidWebhookUrl):
        url = await check_endpoint_url(new.url, found.policy)
    now = datetime.now(UTC)
    secret = signing.new_secret()
    row = await found.store.create_endpoint(
        {
            "id": "ep_" + new_message_id().removeprefix("msg_"),
            "url": url,
            "description": new.description or None,
            "event_types": _json_list(new.event_types),
            "flow_ids": _json_list(new.flow_ids),
            "enabled": True,
            "secret": secret,
            "created_at": now,
            "updated_at": now,
        }
    )
    await audited(request, audit.WEBHOOK_ENDPOINT_CREATE, row["id"], audit.CREATED, origin_of(url))
    created = CreatedWebhookEndpoint.model_construct(
        **WebhookEndpoint.fields_of(row), secret=secret
    )
    headers = {"Location": f"/api/v1/webhook-endpoints/{row['id']}"}
    return JSONResponse(render(created), status_code=201, headers=headers)


@operation(
    "listWebhookEndpoints",
    "Webhook endpoints",
    tag=TAG,
    access="read",
    parameters=query_params(EndpointQuery),
    replies={
        200: Reply("A page of endpoints (secrets are never shown).", page_of(WebhookEndpoint))
    },
    failures=(INVALID_QUERY, STORAGE_UNAVAILABLE),
)
async def get_endpoints(request: Request) -> Response:
    """``GET /api/v1/webhook-endpoints``: in id order."""
    found = services(request).webhooks
    query = Query.of(request.query_params, EndpointQuery)
    limit = query.values.limit
    after = query.scalar_cursor(str)
    query.check()
    rows = await found.store.list_endpoints(after=after, limit=limit + 1)
    return JSONResponse(
        page(
            rows, limit, lambda row: render(WebhookEndpoint.of(row)), lambda last: last["id"], query
        )
    )


async def _endpoint(request: Request) -> Any:
    endpoint_id = request.path_params["endpoint_id"]
    row = await services(request).webhooks.store.get_endpoint(endpoint_id)
    if row is None:
        raise WebhookEndpointNotFound(f"no webhook endpoint {endpoint_id}")
    return row


@operation(
    "getWebhookEndpoint",
    "One webhook endpoint",
    tag=TAG,
    access="read",
    parameters=(ENDPOINT_ID,),
    replies={200: Reply("The endpoint (its secret is never shown).", WebhookEndpoint)},
    failures=(WebhookEndpointNotFound, STORAGE_UNAVAILABLE),
)
async def get_endpoint(request: Request) -> Response:
    """``GET /api/v1/webhook-endpoints/{id}``."""
    return JSONResponse(render(WebhookEndpoint.of(await _endpoint(request))))


@operation(
    "updateWebhookEndpoint",
    "Change a webhook endpoint: its URL, types, flows, description; enable it again",
    tag=TAG,
    access="write",
    parameters=(ENDPOINT_ID,),
    body=WebhookEndpointChange,
    replies={200: Reply("The endpoint as it now is.", WebhookEndpoint)},
    failures=(WebhookEndpointNotFound, *BODY_FAILURES, STORAGE_UNAVAILABLE),
)
async def patch_endpoint(request: Request) -> Response:
    """``PATCH /api/v1/webhook-endpoints/{id}``: only the fields given change."""
    found = services(request).webhooks
    endpoint_id = request.path_params["endpoint_id"]
    refusals = (WebhookEndpointNotFound, InvalidWebhookUrl)
    async with refusals_audited(request, audit.WEBHOOK_ENDPOINT_UPDATE, endpoint_id, *refusals):
        row, changed = await _changed(request, found)
    await audited(request, audit.WEBHOOK_ENDPOINT_UPDATE, endpoint_id, audit.COMPLETED, changed)
    return JSONResponse(render(WebhookEndpoint.of(row)))


async def _changed(request: Request, found: Any) -> tuple[Any, str | None]:
    """The endpoint once changed, and what changed (``url=…, eventTypes, enabled=true``)."""
    await _endpoint(request)
    change: WebhookEndpointChange = _validated(await json_body(request), WebhookEndpointChange)
    given = change.model_fields_set
    values: dict[str, Any] = {}
    if "url" in given and change.url is not None:
        values["url"] = await check_endpoint_url(change.url, found.policy)
    if "event_types" in given and change.event_types is not None:
        values["event_types"] = _json_list(change.event_types)
    if "flow_ids" in given:
        values["flow_ids"] = _json_list(change.flow_ids)
    if "description" in given:
        values["description"] = change.description or None
    if "enabled" in given and change.enabled is not None:
        values["enabled"] = change.enabled
    row = await found.store.update_endpoint(
        request.path_params["endpoint_id"], values, datetime.now(UTC)
    )
    if row is None:
        raise WebhookEndpointNotFound(f"no webhook endpoint {request.path_params['endpoint_id']}")
    if values.get("enabled"):
        found.nudge()  # its pending messages are due again
    url, enabled = origin_of(values.get("url", "")), str(change.enabled).lower()
    said = {"url": f"url={url}", "enabled": f"enabled={enabled}"}
    said |= {"event_types": "eventTypes", "flow_ids": "flowIds"}
    return row, ", ".join(said.get(name, name) for name in values) or None


@operation(
    "deleteWebhookEndpoint",
    "Delete a webhook endpoint, its messages and their delivery log",
    tag=TAG,
    access="write",
    parameters=(ENDPOINT_ID,),
    replies={204: Reply("Deleted.")},
    failures=(WebhookEndpointNotFound, STORAGE_UNAVAILABLE),
)
async def delete_endpoint(request: Request) -> Response:
    """``DELETE /api/v1/webhook-endpoints/{id}``."""
    endpoint_id = request.path_params["endpoint_id"]
    async with refusals_audited(request, audit.WEBHOOK_ENDPOINT_DELETE, endpoint_id):
        if not await services(request).webhooks.store.delete_endpoint(endpoint_id):
            raise WebhookEndpointNotFound(f"no webhook endpoint {endpoint_id}")
    await audited(request, audit.WEBHOOK_ENDPOINT_DELETE, endpoint_id, audit.COMPLETED)
    return Response(status_code=204)


@operation(
    "rotateWebhookSecret",
    "Give a webhook endpoint a new signing secret",
    tag=TAG,
    access="write",
    description="The new secret signs every message from now on; the old one signs each "
    "message too (a second signature) for `FLOWTRACK_WEBHOOKS_SECRET_GRACE_SECONDS`, so "
    "the receiver can switch without losing a message.",
    parameters=(ENDPOINT_ID,),
    replies={200: Reply("The new secret, shown this once.", RotatedSecret)},
    failures=(WebhookEndpointNotFound, STORAGE_UNAVAILABLE),
)
async def rotate_secret(request: Request) -> Response:
    """``POST /api/v1/webhook-endpoints/{id}/rotate-secret``."""
    found = services(request).webhooks
    endpoint_id = request.path_params["endpoint_id"]
    now = datetime.now(UTC)
    until = now + timedelta(seconds=found.config.secret_grace_seconds)
    secret = signing.new_secret()
    async with refusals_audited(request, audit.WEBHOOK_ENDPOINT_ROTATE, endpoint_id):
        row = await found.store.rotate_secret(endpoint_id, secret, grace_until=until, now=now)
        if row is None:
            raise WebhookEndpointNotFound(f"no webhook endpoint {endpoint_id}")
    detail = f"the old secret signs too until {timestamp(until)}"
    await audited(request, audit.WEBHOOK_ENDPOINT_ROTATE, endpoint_id, audit.COMPLETED, detail)
    rotated = RotatedSecret.model_construct(
        id=endpoint_id, secret=secret, previous_secret_valid_until=until
    )
    return JSONResponse(render(rotated))
