"""``POST /webhooks/genesys``: the hot path that receives every flow event.

Order of checks: media type (415), size (413), credentials on the raw bytes (401), JSON
syntax (400), meaning (422, kept as a dead letter). Only then are the events handed to
the group-commit writer, and the 200 is sent after they are committed.
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from pydantic import Field
from starlette.types import Receive, Scope, Send

from receiver.errors import BadRequest, TooLarge, UnsupportedMedia
from receiver.ingest.canonical import ALIASES, ID_LENGTH, KINDS, NAME_LENGTH
from receiver.ingest.credentials import CallbackUnauthorized
from receiver.ingest.notifications import SUPPORTED_TOPICS
from receiver.ingest.payloads import MAX_BATCH, UninterpretableBody, read_payload
from receiver.resources import Services
from receiver.web.models import WireModel, one_of, render
from receiver.web.operations import (
    JSON,
    PROBLEMS,
    STORAGE_UNAVAILABLE,
    Component,
    Failure,
    Reply,
    operation,
    string,
)
from receiver.web.responses import send_error
from storage.records import DeadLetterRecord


class UnsupportedMediaType(UnsupportedMedia):
    """``Content-Type`` is not ``application/json`` (or ``…+json``)."""

    code = "unsupported_media_type"


class PayloadTooLarge(TooLarge):
    """The body is over ``FLOWTRACK_MAX_BODY_BYTES``."""

    code = "payload_too_large"


class MalformedJSON(BadRequest):
    """The body is not valid JSON (or not UTF-8)."""

    code = "malformed_json"


def _optional_text(description: str, max_length: int) -> JSON:
    # Architect sends "" for unset variables, and numbers where strings are expected.
    return {
        "type": ["string", "number", "null"],
        "maxLength": max_length,
        "description": description + " Empty or null counts as absent.",
    }


CANONICAL_EVENT = Component(
    "CanonicalEvent",
    {
        "type": "object",
        "description": "What a flow's Call Data Action step sends. Unknown fields are kept "
        "in the stored raw payload.",
        "properties": {
            "event": string("What happened.", enum=[*KINDS, *ALIASES]),
            "eventType": string("The seed tutorials' name for `event`.", enum=[*KINDS, *ALIASES]),
            "eventId": _optional_text(
                "Unique per event: retries with the same id are stored once.", NAME_LENGTH
            ),
            "launchId": _optional_text("The launch id the flow got as input.", ID_LENGTH),
            "flowExecutionId": _optional_text("The flow execution id.", ID_LENGTH),
            "executionId": _optional_text("Alias of `flowExecutionId`.", ID_LENGTH),
            "conversationId": _optional_text("The conversation id.", ID_LENGTH),
            "flowId": _optional_text("The flow id.", ID_LENGTH),
            "flowVersion": _optional_text("The flow version.", 64),
            "nodeId": _optional_text("The node (step) id.", NAME_LENGTH),
            "nodeType": _optional_text("The node type.", NAME_LENGTH),
            "nodeName": _optional_text("The node name.", NAME_LENGTH),
            "outputPath": _optional_text("The path the node left by.", NAME_LENGTH),
            "errorCode": _optional_text("The error code.", NAME_LENGTH),
            "message": _optional_text("The error message.", 8192),
            "errorMessage": _optional_text("Alias of `message`.", 8192),
            "outcome": _optional_text("On `complete`: `completed`, `failed`, `terminated`.", 64),
            "occurredAt": {
                "description": "When it happened: ISO-8601 (no offset means UTC) or epoch "
                "milliseconds, between 2000 and 2100; when absent, the time of arrival.",
                "anyOf": [
                    string(format="date-time"),
                    {"type": "integer"},
                    {"type": "null"},
                    {"const": ""},
                ],
            },
            "attributes": {"type": ["object", "null"], "description": "Anything else."},
        },
        "examples": [
            {
                "event": "node_enter",
                "eventId": "4711-lookup-enter",
                "launchId": "0b6f2c1e-7d35-4c5e-9a0e-4f1f5d2f8a11",
                "flowId": "7d2a3b1e-5c0f-4f6e-9a41-2b8e0c9d1f37",
                "flowVersion": "3.0",
                "nodeId": "act-lookup",
                "nodeType": "Action",
                "nodeName": "Look up customer",
                "occurredAt": "2026-03-02T10:15:00.120Z",
            }
        ],
        "allOf": [
            {"anyOf": [{"required": ["event"]}, {"required": ["eventType"]}]},
            {
                "description": "At least one correlation key.",
                "anyOf": [
                    {"required": [name]}
                    for name in ("launchId", "flowExecutionId", "executionId", "conversationId")
                ],
            },
        ],
    },
)

NOTIFICATION = Component(
    "NotificationMessage",
    {
        "type": "object",
        "description": "A Genesys notification message as on a notification WebSocket. "
        "Topics: " + ", ".join(f"`{topic}`" for topic in SUPPORTED_TOPICS) + ".",
        "properties": {
            "topicName": string(),
            "version": string(),
            "eventBody": {"type": "object"},
            "metadata": {"type": "object"},
        },
        "required": ["topicName", "eventBody"],
    },
)

EVENTBRIDGE = Component(
    "EventBridgeEnvelope",
    {
        "type": "object",
        "description": "What an Amazon EventBridge API destination posts; `detail` is a "
        "notification message.",
        "properties": {
            "version": string(),
            "id": string(),
            "detail-type": string(),
            "source": string(),
            "account": string(),
            "time": string(),
            "region": string(),
            "resources": {"type": "array", "items": string()},
            "detail": NOTIFICATION,
        },
        "required": ["detail-type", "detail"],
    },
)

CALLBACK_BODY = Component(
    "CallbackBody",
    {
        "description": "One canonical event, a batch of them, a notification message or "
        "an EventBridge envelope.",
        "anyOf": [
            CANONICAL_EVENT,
            {"type": "array", "items": CANONICAL_EVENT, "minItems": 1, "maxItems": MAX_BATCH},
            NOTIFICATION,
            EVENTBRIDGE,
        ],
    },
)


class CallbackAnswer(WireModel):
    """The callback's 200 body; a registered data action's output (its success schema)."""

    accepted: int = Field(description="Events stored now.", ge=0)
    duplicates: int = Field(description="Events stored before (or twice in the body).", ge=0)
    command: str = one_of(
        ("continue", "stop"),
        "`stop` once flowtrack has timed out or terminated the launch: the flow should end itself.",
    )


class CallbackEndpoint:
    """The callback endpoint as a bare ASGI app.

    Every event a flow reports comes through here, so it skips Starlette's request and
    response objects and its exception middleware, which together cost as much CPU per
    request as everything else the endpoint does; ``receiver.app`` also dispatches to it
    ahead of the router. Errors still become responses in ``receiver.web.responses``.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            answer = await self._receive(scope, receive)
        except ClientDisconnected:
            return  # nobody to answer; nothing was stored
        except Exception as exc:
            await send_error(scope, receive, send, exc)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", b"%d" % len(answer)),
                ],
            }
        )
        await send({"type": "http.response.body", "body": answer})

    async def _receive(self, scope: Scope, receive: Receive) -> bytes:
        found: Services = scope["app"].state.services
        headers: dict[str, str] = {}
        for name, value in scope["headers"]:
            # The first of repeated headers counts, as in Starlette's Headers.get.
            headers.setdefault(name.decode("latin-1"), value.decode("latin-1"))
        _require_json(headers.get("content-type"))
        body = await _read_body(
            receive, headers.get("content-length"), found.settings.max_body_bytes
        )
        found.callback_credentials.verify(headers, body)
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise MalformedJSON(f"body is not valid JSON: {exc}") from None
        received_at = datetime.now(UTC)
        webhook_id = headers.get("webhook-id")
        try:
            events = read_payload(
                payload, body=body, received_at=received_at, webhook_id=webhook_id
            )
        except UninterpretableBody as exc:
            letter = DeadLetterRecord(
                received_at,
                exc.message,
                orjson.dumps(exc.errors).decode(),
                # The column holds 255; a longer header must not fail the writer's batch.
                webhook_id[:255] if webhook_id else None,
                body.decode(),
            )
            await found.writer.write((), (letter,))
            raise
        result = await found.writer.write(events)
        answer = CallbackAnswer.model_construct(
            accepted=result.accepted,
            duplicates=result.duplicates,
            command=found.stops.command_for(events),
        )
        return orjson.dumps(render(answer))


receive_callback = operation(
    "receiveCallback",
    "Store flow events",
    tag="callbacks",
    access="callback",
    description="The endpoint a flow's data action, a notification relay or an EventBridge "
    "API destination posts to. Checks, in order: media type (415), size (413), "
    "credentials on the raw bytes (401), JSON syntax (400), meaning (422, kept as a dead "
    "letter). The 200 is sent once the events are committed. Delivery may repeat: every "
    "event is stored once.",
    body=CALLBACK_BODY,
    replies={
        200: Reply(
            "The events are committed.",
            CallbackAnswer,
        )
    },
    failures=(
        Failure.of(CallbackUnauthorized, "Missing or bad credentials; nothing is stored."),
        MalformedJSON,
        PayloadTooLarge,
        UnsupportedMediaType,
        Failure.of(
            UninterpretableBody,
            "Valid JSON that is not an event flowtrack can read; kept as a dead letter, "
            "nothing of it stored as events.",
            detail=PROBLEMS,
        ),
        STORAGE_UNAVAILABLE,
    ),
)(CallbackEndpoint())


def _require_json(content_type: str | None) -> None:
    media_type = (content_type or "").partition(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        shown = repr(content_type) if content_type else "none"
        raise UnsupportedMediaType(
            f"Content-Type must be application/json (got {shown})",
        )


class ClientDisconnected(Exception):
    """The client went away before its body arrived."""


async def _read_body(receive: Receive, declared: str | None, limit: int) -> bytes:
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise MalformedJSON("Content-Length is not a number") from None
        if size > limit:
            raise PayloadTooLarge(f"body is {size} bytes; the limit is {limit} bytes")
    # Counted as it arrives too: a chunked body has no declared size to check.
    chunks = []
    received = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected()
        chunk = message.get("body", b"")
        received += len(chunk)
        if received > limit:
            raise PayloadTooLarge(f"body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)
