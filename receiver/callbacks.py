"""``POST /webhooks/genesys``: the hot path that receives every flow event.

Order of checks: media type (415), size (413), credentials on the raw bytes (401), JSON
syntax (400), meaning (422, kept as a dead letter). Only then are the events handed to
the group-commit writer, and the 200 is sent after they are committed.
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from starlette.requests import Request
from starlette.responses import Response

from receiver.errors import FlowtrackError
from receiver.payloads import UninterpretableBody, read_payload
from receiver.responses import JSONResponse
from receiver.services import services
from storage.records import DeadLetterRecord


class UnsupportedMediaType(FlowtrackError):
    status = 415
    code = "unsupported_media_type"


class PayloadTooLarge(FlowtrackError):
    status = 413
    code = "payload_too_large"


class MalformedJSON(FlowtrackError):
    status = 400
    code = "malformed_json"


async def receive_callback(request: Request) -> Response:
    """Store the events in the body; answer with counts and the flow's next command."""
    found = services(request)
    headers = request.headers
    _require_json(headers.get("content-type"))
    body = await _read_body(request, found.settings.max_body_bytes)
    found.callback_credentials.verify(headers, body)
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedJSON(f"body is not valid JSON: {exc}") from None
    received_at = datetime.now(UTC)
    webhook_id = headers.get("webhook-id")
    try:
        events = read_payload(payload, body=body, received_at=received_at, webhook_id=webhook_id)
    except UninterpretableBody as exc:
        letter = DeadLetterRecord(
            received_at,
            exc.message,
            orjson.dumps(exc.errors).decode(),
            webhook_id,
            body.decode(),
        )
        await found.writer.write((), (letter,))
        raise
    result = await found.writer.write(events)
    return JSONResponse(
        {
            "accepted": result.accepted,
            "duplicates": result.duplicates,
            "command": found.stops.command_for(events),
        }
    )


def _require_json(content_type: str | None) -> None:
    media_type = (content_type or "").partition(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        shown = repr(content_type) if content_type else "none"
        raise UnsupportedMediaType(
            f"Content-Type must be application/json (got {shown})",
        )


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise MalformedJSON("Content-Length is not a number") from None
        if size > limit:
            raise PayloadTooLarge(f"body is {size} bytes; the limit is {limit} bytes")
        return await request.body()
    # Chunked upload: count as it arrives so an endless body cannot exhaust memory.
    chunks = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise PayloadTooLarge(f"body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
