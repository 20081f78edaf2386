"""Genesys notification messages (WebSocket frames or EventBridge ``detail``) → events.

Mapping per genesys-api.md §13: flow start/end/outcome detail events for conversation
flows, and ``v2.flows.instances.flow.{flowId}`` execution histories, whose items become
node_enter events with node_exit derived from the next item's start. Dedupe keys come
from the platform's own identifiers, so the same fact delivered over the WebSocket and
over EventBridge is stored once.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import orjson

from receiver.fields import FieldReader
from receiver.ingest.canonical import ID_LENGTH, NAME_LENGTH
from receiver.ingest.dedupe import dedupe_key
from storage.records import EventRecord

# Ids in topics are bounded like every other id: a longer one (or a NUL) is no topic of ours.
_TOPIC_ID = rf"([^.\x00]{{1,{ID_LENGTH}}})"
_DETAIL = re.compile(rf"^v2\.detail\.events\.conversation\.{_TOPIC_ID}\.flow\.(start|end|outcome)$")
_INSTANCES = re.compile(rf"^v2\.flows\.instances\.flow\.{_TOPIC_ID}$")
ERROR_EXITS = frozenset({"FLOW_ERROR_DISCONNECT", "FLOW_ERROR_EXIT"})
#: Frames about the channel itself (heartbeats, pongs, socket_closing, subscription
#: changes): a relay forwarding every frame sends these too; they carry no flow facts.
_SYSTEM_TOPICS = ("channel.metadata", "v2.subscription.updated")
_SYSTEM_PREFIX = "v2.system."
SUPPORTED_TOPICS = (
    "v2.detail.events.conversation.{id}.flow.start",
    "v2.detail.events.conversation.{id}.flow.end",
    "v2.detail.events.conversation.{id}.flow.outcome",
    "v2.flows.instances.flow.{id}",
)


def is_notification(obj: dict[str, Any]) -> bool:
    """A notification message: ``{topicName, version, eventBody, metadata}``."""
    return "topicName" in obj and "eventBody" in obj


def is_system_frame(obj: dict[str, Any]) -> bool:
    """A channel housekeeping frame (``channel.metadata``, ``v2.system.*``, …): no event."""
    topic = obj.get("topicName")
    return isinstance(topic, str) and (topic in _SYSTEM_TOPICS or topic.startswith(_SYSTEM_PREFIX))


def is_eventbridge(obj: dict[str, Any]) -> bool:
    """An AWS EventBridge envelope around a notification message."""
    return "detail-type" in obj and "detail" in obj


class _Context:
    """What every event derived from one message shares."""

    __slots__ = ("envelope", "errors", "received_at", "source")

    def __init__(
        self,
        source: str,
        received_at: datetime,
        errors: list[dict[str, str]],
        envelope: dict[str, Any] | None,
    ) -> None:
        self.source = source
        self.received_at = received_at
        self.errors = errors
        self.envelope = envelope

    def raw(self, obj: Any) -> str:
        """What an event keeps of its message: ``obj``, inside the EventBridge envelope's
        identity (``id``, ``source`` naming the org, ``time``, ``detail-type``) if any."""
        if self.envelope is None:
            return orjson.dumps(obj).decode()
        return orjson.dumps({**self.envelope, "detail": obj}).decode()


#: What of an EventBridge envelope each event's ``raw`` keeps besides the message.
ENVELOPE_FIELDS = ("id", "source", "time", "detail-type")


def envelope_identity(envelope: dict[str, Any]) -> dict[str, Any]:
    """The envelope fields kept with every event of an EventBridge delivery."""
    return {name: envelope[name] for name in ENVELOPE_FIELDS if name in envelope}


def read_notification(
    message: dict[str, Any],
    *,
    path: str,
    source: str,
    received_at: datetime,
    errors: list[dict[str, str]],
    envelope: dict[str, Any] | None = None,
) -> list[EventRecord]:
    """Turn one notification message into events; problems go to ``errors``.

    ``envelope``: for an EventBridge delivery, the envelope fields each event's ``raw``
    keeps (:func:`envelope_identity`). A system frame (:func:`is_system_frame`) is no
    event and no problem: it yields nothing.
    """
    topic = message.get("topicName")
    body = message.get("eventBody")
    if not isinstance(topic, str):
        errors.append({"field": f"{path}topicName", "problem": "must be a string"})
        return []
    if not isinstance(body, dict):
        errors.append({"field": f"{path}eventBody", "problem": "must be an object"})
        return []
    if is_system_frame(message):
        return []
    context = _Context(source, received_at, errors, envelope)
    fields = FieldReader(body, f"{path}eventBody.", errors)
    if match := _DETAIL.match(topic):
        conversation_id, phase = match.groups()
        return _detail_event(fields, context, message, conversation_id, phase)
    if match := _INSTANCES.match(topic):
        return _instance_events(fields, context, match.group(1))
    errors.append(
        {
            "field": f"{path}topicName",
            "problem": f"unsupported topic {topic!r}; supported: {', '.join(SUPPORTED_TOPICS)}",
        }
    )
    return []


def _detail_event(
    fields: FieldReader,
    context: _Context,
    message: dict[str, Any],
    topic_conversation: str,
    phase: str,
) -> list[EventRecord]:
    before = len(fields.errors)
    conversation_id = fields.text("conversationId", ID_LENGTH) or topic_conversation
    flow_id = fields.text("flowId", ID_LENGTH)
    flow_version = fields.text("flowVersion", 64)
    flow_type = fields.text("flowType", 64)
    session = fields.text("sessionId", NAME_LENGTH)
    occurred_at = fields.timestamp("eventTime")
    if occurred_at is None and "eventTime" not in fields.obj:
        fields.problem("eventTime", "is required (epoch milliseconds)")
    if len(fields.errors) > before or occurred_at is None:
        return []
    # Without a session id the platform's correlation id is the next-best identity.
    metadata = message.get("metadata")
    correlation = metadata.get("CorrelationId") if isinstance(metadata, dict) else None
    identity = session or (correlation if isinstance(correlation, str) else None)
    if identity is None:
        identity = dedupe_key(orjson.dumps(fields.obj, option=orjson.OPT_SORT_KEYS).decode()).hex()
    raw = context.raw(message)

    def event(kind: str, suffix: str, **values: Any) -> EventRecord:
        return EventRecord(
            dedupe_key("flow", phase, conversation_id, identity, suffix),
            kind,
            context.source,
            values.get("occurred_at", occurred_at),
            context.received_at,
            None,
            None,
            conversation_id,
            flow_id,
            flow_version,
            values.get("node_id"),
            values.get("node_type", flow_type if kind == "start" else None),
            values.get("node_name"),
            values.get("output_path"),
            values.get("outcome"),
            values.get("error_code"),
            values.get("error_message"),
            raw,
        )

    if phase == "start":
        return [event("start", "")]
    if phase == "end":
        exit_reason = fields.text("exitReason", 64)
        disconnect = fields.text("disconnectType", 64)
        if exit_reason in ERROR_EXITS:
            message_text = f"flow ended with {exit_reason} (disconnectType {disconnect})"
            return [
                event("error", "error", error_code=exit_reason, error_message=message_text),
                event("complete", "", outcome="failed", error_code=exit_reason),
            ]
        return [event("complete", "", outcome="completed")]
    return _outcome_events(fields, event)


def _outcome_events(fields: FieldReader, event: Any) -> list[EventRecord]:
    """A flow outcome and its milestones, as node exits (author-declared checkpoints)."""
    before = len(fields.errors)
    outcome_id = fields.text("flowOutcomeId", NAME_LENGTH)
    value = fields.text("flowOutcomeValue", 64)
    ended = fields.timestamp("flowOutcomeEndTime")
    if outcome_id is None:
        fields.problem("flowOutcomeId", "is required on flow.outcome")
    events: list[EventRecord] = []
    for index, milestone in enumerate(fields.obj_list("flowMilestones")):
        item = FieldReader(milestone, f"{fields.path}flowMilestones[{index}].", fields.errors)
        milestone_id = item.text("milestoneId", NAME_LENGTH)
        at = item.timestamp("milestoneTime")
        if milestone_id is None:
            item.problem("milestoneId", "is required")
            continue
        extra: dict[str, Any] = {"node_id": milestone_id, "node_type": "milestone"}
        if at is not None:
            extra["occurred_at"] = at
        events.append(event("node_exit", f"{outcome_id}:{milestone_id}", **extra))
    if len(fields.errors) > before:
        return []
    extra = {"node_id": outcome_id, "node_type": "outcome", "output_path": value}
    if ended is not None:
        extra["occurred_at"] = ended
    events.append(event("node_exit", f"{outcome_id}", **extra))
    return events


def _instance_events(fields: FieldReader, context: _Context, topic_flow: str) -> list[EventRecord]:
    before = len(fields.errors)
    execution_id = fields.text("executionId", ID_LENGTH)
    conversation_id = fields.text("conversationId", ID_LENGTH)
    flow_id = fields.text("flowId", ID_LENGTH) or topic_flow
    flow_version = fields.text("flowVersion", 64)
    started = fields.timestamp("startDateTime")
    ended = fields.timestamp("endDateTime")
    exit_reason = fields.text("flowExitReason", NAME_LENGTH)
    if execution_id is None:
        fields.problem("executionId", "is required")
    items = fields.obj_list("execution")
    errors_listed = fields.obj_list("errors")
    parsed: list[tuple[dict[str, Any], str | None, str | None, datetime, str | None, str]] = []
    for index, item in enumerate(items):
        reader = FieldReader(item, f"{fields.path}execution[{index}].", fields.errors)
        # An item without objectId (Genesys's own example has a startedFlow one) is no
        # node visit, but it still ends the visit before it and may carry an error.
        object_id = reader.text("objectId", NAME_LENGTH)
        item_execution = reader.text("executionId", NAME_LENGTH)
        at = reader.timestamp("startDateTime")
        if at is None and "startDateTime" not in item:
            reader.problem("startDateTime", "is required")
        if at is None:
            continue
        parsed.append(
            (
                item,
                object_id,
                reader.text("objectType", NAME_LENGTH),
                at,
                reader.text("outputPathId", NAME_LENGTH),
                item_execution or str(index),
            )
        )
    if len(fields.errors) > before or execution_id is None:
        return []

    def event(kind: str, suffix: str, at: datetime, raw: Any, **values: Any) -> EventRecord:
        return EventRecord(
            dedupe_key("instance", execution_id, suffix),
            kind,
            context.source,
            at,
            context.received_at,
            None,
            execution_id,
            conversation_id,
            flow_id,
            flow_version,
            values.get("node_id"),
            values.get("node_type"),
            None,
            values.get("output_path"),
            values.get("outcome"),
            values.get("error_code"),
            values.get("error_message"),
            raw if isinstance(raw, str) else context.raw(raw),
        )

    # What the start and the completion keep: the message without its item list, once.
    summary = ""
    if started is not None or ended is not None:
        summary = context.raw({k: v for k, v in fields.obj.items() if k != "execution"})
    events: list[EventRecord] = []
    if started is not None:
        events.append(event("start", "start", started, summary))
    errored: set[str] = set()
    last_exit = None if fields.obj.get("executionItemsTruncated") is True else ended
    for position, (item, object_id, object_type, at, output_path, item_id) in enumerate(parsed):
        node = {"node_id": object_id, "node_type": object_type}
        # An item's enter and exit keep the same text: serialised once.
        item_raw = context.raw(item) if object_id is not None else ""
        if object_id is not None:
            events.append(event("node_enter", f"{item_id}:enter", at, item_raw, **node))
        error = item.get("error")
        if isinstance(error, dict):
            errored.add(str(error.get("executionId") or item_id))
            events.append(_error_event(event, error, str(item_id), at, object_id))
        # The platform records no exit: it is the next item's start, or the flow's end —
        # unless the list was cut (the next item is in the full record, not here).
        exit_at = parsed[position + 1][3] if position + 1 < len(parsed) else last_exit
        if exit_at is not None and object_id is not None:
            events.append(
                event(
                    "node_exit",
                    f"{item_id}:exit",
                    exit_at,
                    item_raw,
                    output_path=output_path,
                    **node,
                )
            )
    for index, error in enumerate(errors_listed):
        error_id = str(error.get("executionId") or f"error-{index}")
        if error_id not in errored:
            at = ended or started or context.received_at
            events.append(_error_event(event, error, error_id, at, None))
    if ended is not None:
        failed = bool(errors_listed) or bool(errored) or "ERROR" in (exit_reason or "")
        events.append(
            event(
                "complete",
                "complete",
                ended,
                summary,
                outcome="failed" if failed else "completed",
                error_code=exit_reason if failed else None,
            )
        )
    return events


def _error_event(
    event: Any, error: dict[str, Any], item_id: str, at: datetime, node: str | None
) -> EventRecord:
    reason = error.get("reason")
    object_id = error.get("objectId") or node
    record: EventRecord = event(
        "error",
        f"{error.get('executionId') or item_id}:error",
        at,
        error,
        node_id=_storable(object_id)[:NAME_LENGTH] if object_id else None,
        error_code=_storable(reason)[:NAME_LENGTH] if reason else None,
        error_message=_storable(f"{reason} at {object_id}") if reason else None,
    )
    return record


def _storable(value: Any) -> str:
    """Text as every database can store it (PostgreSQL refuses NUL characters)."""
    return str(value).replace("\x00", "")
