"""Reading a JSON request body on the REST API, with the callback endpoint's answers.

A body that is not declared JSON is a ``415 unsupported_media_type`` and one that does not
parse a ``400 malformed_json``: the same error classes (so the same codes, statuses and
documented failures) and the same media-type rule as ``POST /webhooks/genesys``.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from receiver.ingest.endpoint import MalformedJSON, UnsupportedMediaType, require_json

__all__ = ["MalformedJSON", "UnsupportedMediaType", "json_body"]


async def json_body(request: Request, *, optional: bool = False) -> Any:
    """The request's body, decoded; ``optional``: an empty body is ``None``, not an error."""
    body = await request.body()
    if optional and not body.strip():
        return None
    require_json(request.headers.get("content-type"))
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedJSON(f"body is not valid JSON: {exc}") from None
