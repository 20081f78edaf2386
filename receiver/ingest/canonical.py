"""The canonical callback body a flow's Call Data Action step sends (design.md §2)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from receiver.fields import FieldReader
from receiver.ingest.dedupe import dedupe_key
from storage.records import EventRecord

KINDS = ("start", "node_enter", "node_exit", "error", "complete")

# The seed tutorials' names, accepted so flows written from them keep working.
ALIASES = {
    "flow:start": "start",
    "flow:node:enter": "node_enter",
    "flow:node:exit": "node_exit",
    "flow:error": "error",
    "flow:complete": "complete",
}

SOURCE = "data_action"
ID_LENGTH = 128
NAME_LENGTH = 255


def is_canonical(obj: dict[str, Any]) -> bool:
    """True when ``obj`` looks like a canonical callback (it names its event)."""
    return "event" in obj or "eventType" in obj


def read_canonical(
    obj: dict[str, Any],
    *,
    path: str,
    raw: str,
    received_at: datetime,
    delivery_id: str | None,
    errors: list[dict[str, str]],
) -> EventRecord | None:
    """Turn one canonical callback object into an event row, or record its problems.

    ``delivery_id`` (the webhook-id header plus the item's position) identifies a signed
    delivery; it is the dedupe identity when the flow supplies no ``eventId``.
    """
    fields = FieldReader(obj, path, errors)
    before = len(errors)
    kind = _kind(fields)
    event_id = fields.text("eventId", NAME_LENGTH)
    before_ids = len(errors)
    launch_id = fields.text("launchId", ID_LENGTH)
    execution_id = fields.text("flowExecutionId", ID_LENGTH, "executionId")
    conversation_id = fields.text("conversationId", ID_LENGTH)
    ids_valid = len(errors) == before_ids
    flow_id = fields.text("flowId", ID_LENGTH)
    flow_version = fields.text("flowVersion", 64)
    node_id = fields.text("nodeId", NAME_LENGTH)
    node_type = fields.text("nodeType", NAME_LENGTH)
    node_name = fields.text("nodeName", NAME_LENGTH)
    output_path = fields.text("outputPath", NAME_LENGTH)
    outcome = fields.text("outcome", 64)
    error_code = fields.text("errorCode", NAME_LENGTH)
    message = fields.text("message", 8192, "errorMessage")
    occurred_at = fields.timestamp("occurredAt")
    if ids_valid and launch_id is None and execution_id is None and conversation_id is None:
        fields.problem(
            "launchId",
            "one of launchId, flowExecutionId or conversationId is required",
        )
    attributes = obj.get("attributes")
    if attributes is not None and not isinstance(attributes, dict):
        fields.problem("attributes", "must be an object")
    if len(errors) > before or kind is None:
        return None
    if event_id is not None:
        key = dedupe_key("cb", "id", event_id, kind)
    elif delivery_id is not None:
        key = dedupe_key("cb", "delivery", delivery_id)
    else:
        key = dedupe_key(
            "cb",
            "fields",
            kind,
            launch_id,
            execution_id,
            conversation_id,
            flow_id,
            node_id,
            occurred_at.isoformat() if occurred_at else None,
            output_path,
            error_code,
        )
    return EventRecord(
        key,
        kind,
        SOURCE,
        occurred_at or received_at,
        received_at,
        launch_id,
        execution_id,
        conversation_id,
        flow_id,
        flow_version,
        node_id,
        node_type,
        node_name,
        output_path,
        outcome,
        error_code,
        message,
        raw,
    )


def _kind(fields: FieldReader) -> str | None:
    event = fields.obj.get("event")
    alias = fields.obj.get("eventType")
    if alias is not None and not isinstance(alias, str):
        # Checked first: a non-string cannot be looked up among the aliases.
        fields.problem("eventType", "must be a string")
        return None
    if event is not None and alias is not None and ALIASES.get(alias, alias) != event:
        fields.problem("eventType", f"{alias!r} contradicts event {event!r}")
        return None
    name = "event" if event is not None else "eventType"
    value = event if event is not None else alias
    if not isinstance(value, str):
        fields.problem(name, "must be a string")
        return None
    kind = ALIASES.get(value, value)
    if kind not in KINDS:
        allowed = ", ".join((*KINDS, *ALIASES))
        fields.problem(name, f"unknown event {value!r}; expected one of {allowed}")
        return None
    return kind
