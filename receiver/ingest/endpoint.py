"""``POST /webhooks/genesys``: the hot path that receives every flow event.

Order of checks: media type (415), size (413), credentials on the raw bytes (401), JSON
syntax (400), meaning (422, kept as a dead letter). Only then are the events handed to
the group-commit writer, and the 200 is sent after they are committed.
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from starlette.types import Receive, Scope, Send

from receiver.errors import BadRequest, FlowtrackError, TooLarge, Unavailable, UnsupportedMedia
from receiver.ingest.answer import CallbackAnswer
from receiver.ingest.canonical import CanonicalEvent
from receiver.ingest.credentials import CallbackUnauthorized
from receiver.ingest.notifications import SUPPORTED_TOPICS
from receiver.ingest.payloads import MAX_BATCH, UninterpretableBody, is_ignored, read_payload
from receiver.resources import Services
from receiver.web import request_ids
from receiver.web.operations import (
    PROBLEMS,
    STORAGE_UNAVAILABLE,
    Component,
    Failure,
    Reply,
    operation,
    string,
)
from receiver.web.responses import send_error, status_of
from storage.errors import SchemaNotReady, StorageUnavailable
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
            CanonicalEvent,
            {"type": "array", "items": CanonicalEvent, "minItems": 1, "maxItems": MAX_BATCH},
            NOTIFICATION,
            EVENTBRIDGE,
        ],
    },
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
            _count_refusal(scope, exc)
            request_id = scope.get(request_ids.SCOPE_KEY)
            if request_id is not None:
                send = request_ids.echoing(send, request_id)
            await send_error(scope, receive, send, exc)
            return
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", b"%d" % len(answer)),
        ]
        request_id = scope.get(request_ids.SCOPE_KEY)
        if request_id is not None:
            headers.append((request_ids.HEADER, request_id.encode("ascii")))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})

    async def _receive(self, scope: Scope, receive: Receive) -> bytes:
        found: Services = scope["app"].state.services
        headers: dict[str, str] = {}
        for name, value in scope["headers"]:
            # The first of repeated headers counts, as in Starlette's Headers.get.
            headers.setdefault(name.decode("latin-1"), value.decode("latin-1"))
        require_json(headers.get("content-type"))
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
            found.metrics.callbacks.dead_letter_stored(
                exc.message, remote=_remote(scope), webhook_id=webhook_id
            )
            raise
        if not events and is_ignored(payload):
            found.metrics.callbacks.ignored()
            return CallbackAnswer.encode(0, 0, "continue")
        result = await found.writer.write(events)
        found.metrics.callbacks.answered(result.accepted, result.duplicates)
        command = found.stops.command_for(events)
        return CallbackAnswer.encode(result.accepted, result.duplicates, command)


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


#: The ``reason`` of a refusal (``flowtrack_callbacks_total``, ``callback.refused``).
_REASONS: tuple[tuple[type[Exception], str], ...] = (
    (CallbackUnauthorized, "unauthorized"),
    (MalformedJSON, "malformed_json"),
    (PayloadTooLarge, "too_large"),
    (UnsupportedMediaType, "unsupported_media_type"),
    (UninterpretableBody, "uninterpretable"),
    (Unavailable, "unavailable"),
    (StorageUnavailable, "unavailable"),
    (SchemaNotReady, "unavailable"),
)


def _count_refusal(scope: Scope, exc: Exception) -> None:
    """Count and log (throttled) why a callback was refused: never its body or token."""
    reason = next((name for kind, name in _REASONS if isinstance(exc, kind)), "internal_error")
    if isinstance(exc, FlowtrackError):
        status, code, message = status_of(type(exc)), exc.code, exc.message
    else:  # storage trouble or a bug, answered by receiver.web.responses
        unavailable = reason == "unavailable"
        status = 503 if unavailable else 500
        code = "storage_unavailable" if unavailable else "internal_error"
        message = str(exc) if unavailable else type(exc).__name__
    webhook_id = None
    for name, value in scope["headers"]:
        if name == b"webhook-id":
            webhook_id = value[:255].decode("latin-1")
            break
    found: Services = scope["app"].state.services
    found.metrics.callbacks.refused(
        reason,
        status=status,
        code=code,
        message=message,
        remote=_remote(scope),
        webhook_id=webhook_id,
    )


def _remote(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0]) if client else None


def require_json(content_type: str | None) -> None:
    """Raise :class:`UnsupportedMediaType` unless ``content_type`` is JSON (``…+json`` too).

    The REST API's JSON bodies are held to the same rule (``receiver.api.bodies``).
    """
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
