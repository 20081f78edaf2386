"""Reading Genesys JSON tolerantly.

Genesys models are permissive (genesys-api.md §0.2): fields may be added or left out.
These readers return ``None`` or an empty container for anything absent or of an
unexpected type, so result objects are built from what is there. Only the fields a
result cannot exist without (its ``id``) are demanded, via :func:`required_text`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

JSONObject = dict[str, Any]


def json_object(response: httpx.Response) -> JSONObject:
    """The body as a JSON object, or ``{}`` when it is not one (e.g. an HTML error page)."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return {}
    return body if isinstance(body, dict) else {}


def decode(response: httpx.Response) -> Any:
    """The body as JSON; raises ``ValueError`` when it is not JSON."""
    return orjson.loads(response.content)


def text(data: JSONObject, key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) else None


def required_text(data: JSONObject, key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"missing {key!r}")
    return value


def integer(data: JSONObject, key: str) -> int | None:
    value = data.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def boolean(data: JSONObject, key: str) -> bool | None:
    value = data.get(key)
    return value if isinstance(value, bool) else None


def mapping(data: JSONObject, key: str) -> JSONObject:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def mappings(data: JSONObject, key: str) -> list[JSONObject]:
    value = data.get(key)
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


def strings(data: JSONObject, key: str) -> tuple[str, ...]:
    value = data.get(key)
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, str))


def ref_id(data: JSONObject, key: str) -> str | None:
    """The ``id`` of a nested reference such as ``{"flowVersion": {"id": "3.0"}}``."""
    return text(mapping(data, key), "id")


def timestamp(data: JSONObject, key: str) -> datetime | None:
    """An ISO-8601 REST timestamp (``2026-03-02T10:15:00.120Z``) as an aware UTC datetime."""
    value = data.get(key)
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
