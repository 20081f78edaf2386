"""JSON on the wire: orjson responses, request bodies, query parameters, entity listings."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.requests import Request
from starlette.responses import Response

from sandbox.errors import BadRequest


class JSONResponse(Response):
    """``application/json`` rendered with orjson (no charset suffix, like the real API)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


async def read_json(request: Request) -> Any:
    """Decode the request body; a malformed body is a 400 ``bad.request``."""
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"The request body is not valid JSON: {exc}") from exc


async def read_object(request: Request) -> dict[str, Any]:
    """Decode a body that must be a JSON object."""
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    return body


def query_int(request: Request, name: str, default: int, *, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise BadRequest(
            f"Query parameter {name!r} must be an integer.", code="invalid.query.param.value"
        ) from exc
    if not low <= value <= high:
        raise BadRequest(
            f"Query parameter {name!r} must be between {low} and {high}.",
            code="invalid.query.param.value",
        )
    return value


def query_bool(request: Request, name: str, default: bool = False) -> bool:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    return raw.lower() == "true"


def query_list(request: Request, name: str) -> list[str]:
    """A list parameter sent either repeated or comma-separated (the SDK joins with ',')."""
    return [
        part for value in request.query_params.getlist(name) for part in value.split(",") if part
    ]


def entity_listing(
    request: Request, items: Sequence[Any], *, default_size: int = 25
) -> dict[str, Any]:
    """Page ``items`` the way Genesys ``*EntityListing`` responses do."""
    page_size = query_int(request, "pageSize", default_size, low=1, high=500)
    page_number = query_int(request, "pageNumber", 1, low=1, high=1_000_000)
    total = len(items)
    page_count = max(1, math.ceil(total / page_size))
    start = (page_number - 1) * page_size

    def uri(number: int) -> str:
        params = {
            k: v for k, v in request.query_params.items() if k not in {"pageNumber", "pageSize"}
        }
        params.update(pageSize=str(page_size), pageNumber=str(number))
        return f"{request.url.path}?{urlencode(params)}"

    listing: dict[str, Any] = {
        "entities": list(items[start : start + page_size]),
        "pageSize": page_size,
        "pageNumber": page_number,
        "total": total,
        "pageCount": page_count,
        "firstUri": uri(1),
        "lastUri": uri(page_count),
        "selfUri": uri(page_number),
    }
    if page_number < page_count:
        listing["nextUri"] = uri(page_number + 1)
    if page_number > 1:
        listing["previousUri"] = uri(page_number - 1)
    return listing


def drop_none(document: dict[str, Any]) -> dict[str, Any]:
    """Omit absent optional fields, as the real API's serializer does."""
    return {key: value for key, value in document.items() if value is not None}
