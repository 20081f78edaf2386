"""Recognise what a callback body is and turn it into canonical event rows.

Three formats arrive on the one callback endpoint (design.md §2): the canonical body
(one object or an array), a Genesys notification message, and the EventBridge envelope
around one. Any problem makes the whole body uninterpretable: it goes to the dead
letters with every problem listed, and nothing from it is stored as events. A channel
housekeeping frame (heartbeat, pong, ``v2.system.*``) a relay forwards is no event and
no problem: it reads as no events (see :func:`is_ignored`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from receiver.errors import InvalidRequest
from receiver.ingest.canonical import SOURCE as CANONICAL_SOURCE
from receiver.ingest.canonical import is_canonical, read_canonical
from receiver.ingest.notifications import (
    envelope_identity,
    is_eventbridge,
    is_notification,
    is_system_frame,
    read_notification,
)
from storage.records import EventRecord
from storage.vocabulary import EVENTBRIDGE, NOTIFICATION

MAX_BATCH = 1000


class UninterpretableBody(InvalidRequest):
    """Valid JSON that is not an event flowtrack can interpret (kept as a dead letter)."""

    code = "uninterpretable_event"

    def __init__(self, reason: str, errors: list[dict[str, str]]) -> None:
        super().__init__(reason, detail=errors)
        self.errors = errors


def read_payload(
    payload: Any,
    *,
    body: bytes,
    received_at: datetime,
    webhook_id: str | None,
) -> list[EventRecord]:
    """Interpret a decoded callback body, or raise :class:`UninterpretableBody`."""
    errors: list[dict[str, str]] = []
    if isinstance(payload, dict):
        # A single canonical object is stored verbatim: no re-serialisation on the hot path.
        events = _read_item(payload, "", body.decode(), received_at, webhook_id, errors)
    elif isinstance(payload, list):
        if not payload:
            raise UninterpretableBody("empty batch: send at least one event", [])
        if len(payload) > MAX_BATCH:
            raise UninterpretableBody(
                f"batch of {len(payload)} events; at most {MAX_BATCH} per request", []
            )
        events = []
        for index, item in enumerate(payload):
            if not isinstance(item, dict):
                errors.append({"field": f"[{index}]", "problem": "must be an object"})
                continue
            delivery = f"{webhook_id}:{index}" if webhook_id else None
            raw = orjson.dumps(item).decode()
            events.extend(_read_item(item, f"[{index}].", raw, received_at, delivery, errors))
    else:
        raise UninterpretableBody("expected a JSON object or an array of objects", [])
    if errors:
        raise UninterpretableBody(_summary(errors), errors)
    return events


def _read_item(
    obj: dict[str, Any],
    path: str,
    raw: str,
    received_at: datetime,
    delivery_id: str | None,
    errors: list[dict[str, str]],
) -> list[EventRecord]:
    if is_canonical(obj):
        record = read_canonical(
            obj,
            path=path,
            raw=raw,
            received_at=received_at,
            delivery_id=delivery_id,
            errors=errors,
        )
        return [record] if record is not None else []
    if is_notification(obj):
        return read_notification(
            obj, path=path, source=NOTIFICATION, received_at=received_at, errors=errors
        )
    if is_eventbridge(obj):
        detail = obj.get("detail")
        if not isinstance(detail, dict) or not is_notification(detail):
            errors.append(
                {
                    "field": f"{path}detail",
                    "problem": "must be a notification message {topicName, eventBody, ...}",
                }
            )
            return []
        return read_notification(
            detail,
            path=f"{path}detail.",
            source=EVENTBRIDGE,
            received_at=received_at,
            errors=errors,
            envelope=envelope_identity(obj),
        )
    errors.append(
        {
            "field": path.rstrip(".") or "(body)",
            "problem": "not a recognised event: expected a canonical callback with 'event', "
            "a notification with 'topicName' and 'eventBody', or an EventBridge envelope "
            "with 'detail-type' and 'detail'",
        }
    )
    return []


def is_ignored(payload: Any) -> bool:
    """A body that is acknowledged and not stored: a notification channel's system frame."""
    return isinstance(payload, dict) and is_system_frame(payload)


def _summary(errors: list[dict[str, str]]) -> str:
    first = errors[0]
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return f"{first['field']}: {first['problem']}{more}"


__all__ = ["CANONICAL_SOURCE", "UninterpretableBody", "is_ignored", "read_payload"]
