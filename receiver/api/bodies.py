"""Reading a JSON request body on the REST API, with the callback endpoint's answers.

A body that is not declared JSON is a ``415 unsupported_media_type`` and one that does not
parse a ``400 malformed_json``: the same error classes (so the same codes, statuses and
documented failures) as ``POST /webhooks/genesys``.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from receiver.ingest.endpoint import MalformedJSON, UnsupportedMediaType

__all__ = ["MalformedJSON", "UnsupportedMediaType", "json_body"]


async def json_body(request: Request, *, optional: bool = False) -> Any:
    """The request's body, decoded; ``optional``: an empty body is ``None``, not an error."""
    body = await request.body()
    if optional and not body.strip():
        return None
    content_type = request.headers.get("content-type")
    media_type = (content_type or "").partition(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        shown = repr(content_type) if content_type else "none"
        raise UnsupportedMediaType(f"Content-Type must be application/json (got {shown})")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedJSON(f"body is not valid JSON: {exc}") from None
