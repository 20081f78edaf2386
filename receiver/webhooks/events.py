"""The webhook event types: each one's body, declared once as a wire model.

A message's body is the Standard Webhooks envelope ``{"type", "timestamp", "data"}``;
``data`` is the event type's model, filled from the facts the outbox kept with the
message (storage.outbox), so every attempt of a message sends the very same body. The
catalogue is versioned: a type's body only ever gains fields; a change that would break
a receiver gets a new type name instead (``launch.completed.v2``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import orjson
from pydantic import Field

from receiver.web.models import Timestamp, WireModel, one_of, raw_json, render
from storage import outbox
from storage.vocabulary import SOURCES, STATES

#: The catalogue's version: the date its last type was added.
CATALOGUE_VERSION = "2026-12-03"


class LastNode(WireModel):
    """The node of the launch's latest node event."""

    id: str
    name: str | None


class LaunchEnded(WireModel):
    """A launch reached an end state (``launch.*``): the launch as it ended."""

    launch_id: str = Field(description="flowtrack's launch id.")
    flow_id: str
    flow_version: str | None
    name: str | None = Field(description="The name given at launch.")
    state: str = one_of(STATES, "The end state (the type's last part).")
    state_reason: str | None = Field(description="Why it ended so (clipped at 2,000 characters).")
    error_code: str | None
    flow_execution_id: str | None
    conversation_id: str | None
    current_node: LastNode | None = Field(description="Where it was when it ended.")
    created_at: Timestamp
    ended_at: Timestamp | None

    @classmethod
    def of(cls, facts: dict[str, Any]) -> LaunchEnded:
        node = None
        if facts["current_node_id"] is not None:
            node = LastNode(id=facts["current_node_id"], name=facts["current_node_name"])
        return cls.model_validate(
            {
                **{key: facts[key] for key in cls.model_fields if key in facts},
                "launch_id": facts["id"],
                "current_node": node,
            }
        )


class FlowError(WireModel):
    """A flow reported an error (``flow.error``), as flowtrack stored it."""

    source: str = one_of(SOURCES, "Who reported it.")
    occurred_at: Timestamp
    launch_id: str | None = Field(description="The launch, when the flow reported one.")
    flow_execution_id: str | None
    conversation_id: str | None
    flow_id: str | None
    flow_version: str | None
    node_id: str | None
    node_type: str | None
    node_name: str | None
    error_code: str | None
    error_message: str | None = Field(description="Clipped at 2,000 characters.")

    @classmethod
    def of(cls, facts: dict[str, Any]) -> FlowError:
        return cls.model_validate(facts)


class DeadLetterStored(WireModel):
    """A callback body could not be read and was kept as a dead letter."""

    dead_letter_id: int = Field(description="`GET /api/v1/dead-letters`; replay it once fixed.")
    received_at: Timestamp
    reason: str = Field(description="Why it could not be read (clipped at 2,000 characters).")
    webhook_id: str | None = Field(description="The `webhook-id` of the delivery, if any.")

    @classmethod
    def of(cls, facts: dict[str, Any]) -> DeadLetterStored:
        kept = {key: value for key, value in facts.items() if key != "id"}
        return cls.model_validate({**kept, "dead_letter_id": facts["id"]})


class ActionRunFinished(WireModel):
    """A data action run reached its final state (``action_run.*``)."""

    run_id: str = Field(description="`GET /api/v1/action-runs/{runId}` has everything.")
    action_id: str
    action_version: int | None
    state: str = Field(
        description="`succeeded`; or `failed`, `timed_out`, `unknown` (its outcome was "
        "lost with the worker running it) for `action_run.failed`."
    )
    failure_reason: str | None
    error: Annotated[
        Any, raw_json("The error as the run keeps it (null over 2,000 characters).", nullable=True)
    ]
    dry_run: bool
    finished_at: Timestamp | None

    @classmethod
    def of(cls, facts: dict[str, Any]) -> ActionRunFinished:
        return cls.model_validate(facts)


class WebhookTest(WireModel):
    """A test message, sent on request to one endpoint (``webhook.test``)."""

    endpoint_id: str
    message: str

    @classmethod
    def of(cls, facts: dict[str, Any]) -> WebhookTest:
        return cls.model_validate(facts)


@dataclass(frozen=True)
class EventType:
    """One type of the catalogue: its name, version, what it means, its ``data``."""

    name: str
    version: int
    description: str
    data: type[LaunchEnded | FlowError | DeadLetterStored | ActionRunFinished | WebhookTest]


def _launch(state: str, meaning: str) -> EventType:
    return EventType(outbox.LAUNCH_ENDED[state], 1, meaning, LaunchEnded)


CATALOGUE: tuple[EventType, ...] = (
    _launch("completed", "A launch completed: its flow ended without an error."),
    _launch("failed", "A launch failed: its flow reported an error or the outcome failed."),
    _launch("timed_out", "flowtrack ended a launch that passed its deadline or idle limit."),
    _launch("terminated", "A launch was terminated on request."),
    _launch("launch_failed", "The platform refused to start a launch."),
    _launch("termination_failed", "Ending a launch kept failing; it may still be running."),
    EventType(outbox.FLOW_ERROR, 1, "A flow reported an error.", FlowError),
    EventType(outbox.ACTION_RUN_SUCCEEDED, 1, "A data action run succeeded.", ActionRunFinished),
    EventType(outbox.ACTION_RUN_FAILED, 1, "A data action run failed.", ActionRunFinished),
    EventType(
        outbox.DEAD_LETTER_STORED, 1, "A callback body was kept as a dead letter.", DeadLetterStored
    ),
    EventType(outbox.WEBHOOK_TEST, 1, "A test message (never subscribed to).", WebhookTest),
)
TYPES = {each.name: each for each in CATALOGUE}


def _names(data: type[WireModel]) -> list[str]:
    return [each.name for each in CATALOGUE if each.data is data]


def _type(data: type[WireModel]) -> Any:
    return one_of(_names(data), "The event type.")


def _when() -> Any:
    return Field(description="When the change happened (when the message was made).")


class LaunchEndedMessage(WireModel):
    """The body of a `launch.*` message."""

    type: str = _type(LaunchEnded)
    timestamp: Timestamp = _when()
    data: LaunchEnded


class FlowErrorMessage(WireModel):
    """The body of a `flow.error` message."""

    type: str = _type(FlowError)
    timestamp: Timestamp = _when()
    data: FlowError


class ActionRunFinishedMessage(WireModel):
    """The body of an `action_run.*` message."""

    type: str = _type(ActionRunFinished)
    timestamp: Timestamp = _when()
    data: ActionRunFinished


class DeadLetterStoredMessage(WireModel):
    """The body of a `dead_letter.stored` message."""

    type: str = _type(DeadLetterStored)
    timestamp: Timestamp = _when()
    data: DeadLetterStored


class WebhookTestMessage(WireModel):
    """The body of a `webhook.test` message."""

    type: str = _type(WebhookTest)
    timestamp: Timestamp = _when()
    data: WebhookTest


#: Any message body (the OpenAPI document shows each).
AnyMessage = (
    LaunchEndedMessage
    | FlowErrorMessage
    | ActionRunFinishedMessage
    | DeadLetterStoredMessage
    | WebhookTestMessage
)


#: The body model of each data shape.
_ENVELOPES: dict[type[WireModel], type[WireModel]] = {
    LaunchEnded: LaunchEndedMessage,
    FlowError: FlowErrorMessage,
    ActionRunFinished: ActionRunFinishedMessage,
    DeadLetterStored: DeadLetterStoredMessage,
    WebhookTest: WebhookTestMessage,
}


def message(event_type: str, created_at: datetime, data: str) -> AnyMessage:
    """The body of a message, as its model: its type's ``data`` from the kept facts."""
    shape = TYPES[event_type].data
    envelope = _ENVELOPES[shape]
    content = shape.of(orjson.loads(data))
    fields: dict[str, Any] = {"type": event_type, "timestamp": created_at, "data": content}
    built: AnyMessage = envelope.model_construct(**fields)  # type: ignore[assignment]
    return built


def body(event_type: str, created_at: datetime, data: str) -> bytes:
    """The body of a message, as sent: the same bytes at every attempt."""
    return orjson.dumps(render(message(event_type, created_at, data)))


_SAMPLE_AT = "2026-03-02T10:15:00.120000+00:00"
_FLOW = "7d2a3b1e-5c0f-4f6e-9a41-2b8e0c9d1f37"
#: What each data shape's facts look like, for the examples of the catalogue.
SAMPLES: dict[type[WireModel], dict[str, Any]] = {
    LaunchEnded: {
        "id": "l-01j9z3k8",
        "flow_id": _FLOW,
        "flow_version": None,
        "name": "order 4711",
        "state": "completed",
        "state_reason": None,
        "error_code": None,
        "flow_execution_id": "e-5f1c",
        "conversation_id": None,
        "current_node_id": "notify",
        "current_node_name": "Notify",
        "created_at": _SAMPLE_AT,
        "ended_at": _SAMPLE_AT,
    },
    FlowError: {
        "source": "data_action",
        "occurred_at": _SAMPLE_AT,
        "launch_id": "l-01j9z3k8",
        "flow_execution_id": "e-5f1c",
        "conversation_id": None,
        "flow_id": _FLOW,
        "flow_version": "3",
        "node_id": "push",
        "node_type": "CallData",
        "node_name": "Push",
        "error_code": "DATA_ACTION_FAILED",
        "error_message": "the CRM answered 500",
    },
    DeadLetterStored: {
        "id": 42,
        "received_at": _SAMPLE_AT,
        "reason": "event: must be one of start, …",
        "webhook_id": "msg_2aaf",
    },
    ActionRunFinished: {
        "run_id": "run-9",
        "action_id": "custom_-_5e6a",
        "action_version": 2,
        "state": "failed",
        "failure_reason": "remote_error",
        "error": {"message": "the CRM answered 500"},
        "dry_run": False,
        "finished_at": _SAMPLE_AT,
    },
    WebhookTest: {"endpoint_id": "ep_01j9z3", "message": "a test message from flowtrack"},
}


def example(event_type: str) -> AnyMessage:
    """An example body of ``event_type``, as a receiver would get it."""
    shape = TYPES[event_type].data
    facts = dict(SAMPLES[shape])
    if shape in (LaunchEnded, ActionRunFinished):
        facts["state"] = event_type.split(".", 1)[1]
    created = datetime.fromisoformat(_SAMPLE_AT)
    return message(event_type, created, orjson.dumps(facts).decode())
