"""The canonical callback body a flow's Call Data Action step sends.

:class:`CanonicalEvent` declares it once: its fields, limits and aliases give the
OpenAPI schema of the callback endpoint and the input contract of the data action that
registration creates in Genesys, and :func:`read_canonical` reads bodies by the same
declarations. The reader is hand-written rather than pydantic's validation because it
is the ingest hot path, and because it reports problems in the callback's own words
(numbers accepted as text, ``""`` and ``null`` as absent, every problem at once).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar

from pydantic import ConfigDict, Field, JsonValue, WithJsonSchema

from receiver.fields import FieldReader
from receiver.ingest.dedupe import dedupe_key
from receiver.web.models import RequestModel
from storage.records import EventRecord
from storage.vocabulary import DATA_ACTION, KINDS

# The seed tutorials' names, accepted so flows written from them keep working.
ALIASES = {
    "flow:start": "start",
    "flow:node:enter": "node_enter",
    "flow:node:exit": "node_exit",
    "flow:error": "error",
    "flow:complete": "complete",
}

SOURCE = DATA_ACTION
ID_LENGTH = 128
NAME_LENGTH = 255
MESSAGE_LENGTH = 8192


def _text(description: str, max_length: int) -> Any:
    # Architect sends "" for unset variables, and numbers where strings are expected.
    schema: dict[str, JsonValue] = {"type": ["string", "number", "null"], "maxLength": max_length}
    return Field(
        None, description=f"{description} Empty or null counts as absent.", json_schema_extra=schema
    )


_Text = Annotated[Any, WithJsonSchema({})]
_Kind = Annotated[str | None, WithJsonSchema({"type": "string", "enum": [*KINDS, *ALIASES]})]
_Moment = Annotated[
    Any,
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date-time"},
                {"type": "integer"},
                {"type": "null"},
                {"const": ""},
            ]
        }
    ),
]
_CORRELATION = ("launchId", "flowExecutionId", "executionId", "conversationId")


class CanonicalEvent(RequestModel):
    """What a flow's Call Data Action step sends; unknown fields are kept in its raw payload."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
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
                    "anyOf": [{"required": [name]} for name in _CORRELATION],
                },
            ],
        },
    )

    #: Other names a field is accepted under (the seed tutorials', or Genesys's).
    ALIASES_OF: ClassVar[dict[str, tuple[str, ...]]] = {
        "event": ("eventType",),
        "flowExecutionId": ("executionId",),
        "message": ("errorMessage",),
    }

    event: _Kind = Field(None, description="What happened.")
    event_type: _Kind = Field(None, description="The seed tutorials' name for `event`.")
    event_id: _Text = _text(
        "Unique per event: retries with the same id are stored once.", NAME_LENGTH
    )
    launch_id: _Text = _text("The launch id the flow got as input.", ID_LENGTH)
    flow_execution_id: _Text = _text("The flow execution id.", ID_LENGTH)
    execution_id: _Text = _text("Alias of `flowExecutionId`.", ID_LENGTH)
    conversation_id: _Text = _text("The conversation id.", ID_LENGTH)
    flow_id: _Text = _text("The flow id.", ID_LENGTH)
    flow_version: _Text = _text("The flow version.", 64)
    node_id: _Text = _text("The node (step) id.", NAME_LENGTH)
    node_type: _Text = _text("The node type.", NAME_LENGTH)
    node_name: _Text = _text("The node name.", NAME_LENGTH)
    output_path: _Text = _text("The path the node left by.", NAME_LENGTH)
    error_code: _Text = _text("The error code.", NAME_LENGTH)
    message: _Text = _text("The error message.", MESSAGE_LENGTH)
    error_message: _Text = _text("Alias of `message`.", MESSAGE_LENGTH)
    outcome: _Text = _text("On `complete`: `completed`, `failed`, `terminated`.", 64)
    occurred_at: _Moment = Field(
        None,
        description="When it happened: ISO-8601 (no offset means UTC) or epoch milliseconds, "
        "between 2000 and 2100; when absent, the time of arrival.",
    )
    attributes: Annotated[Any, WithJsonSchema({"type": ["object", "null"]})] = Field(
        None, description="Anything else."
    )

    @classmethod
    def inputs(cls) -> dict[str, str]:
        """Each field a flow supplies (aliases aside) and its description, by wire name."""
        aliases = {alias for names in cls.ALIASES_OF.values() for alias in names}
        named = (
            (info.alias or name, info.description or "") for name, info in cls.model_fields.items()
        )
        return {alias: text for alias, text in named if alias not in aliases}


#: Each text field's longest accepted value, by wire name.
LIMITS: dict[str, int] = {
    info.alias or name: limit
    for name, info in CanonicalEvent.model_fields.items()
    if isinstance(info.json_schema_extra, dict)
    and isinstance(limit := info.json_schema_extra.get("maxLength"), int)
}


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
    event_id = fields.text("eventId", LIMITS["eventId"])
    before_ids = len(errors)
    launch_id = fields.text("launchId", LIMITS["launchId"])
    execution_id = fields.text("flowExecutionId", LIMITS["flowExecutionId"], "executionId")
    conversation_id = fields.text("conversationId", LIMITS["conversationId"])
    ids_valid = len(errors) == before_ids
    flow_id = fields.text("flowId", LIMITS["flowId"])
    flow_version = fields.text("flowVersion", LIMITS["flowVersion"])
    node_id = fields.text("nodeId", LIMITS["nodeId"])
    node_type = fields.text("nodeType", LIMITS["nodeType"])
    node_name = fields.text("nodeName", LIMITS["nodeName"])
    output_path = fields.text("outputPath", LIMITS["outputPath"])
    outcome = fields.text("outcome", LIMITS["outcome"])
    error_code = fields.text("errorCode", LIMITS["errorCode"])
    message = fields.text("message", LIMITS["message"], "errorMessage")
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
