from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from receiver.ingest.notifications import read_notification
from storage.records import EventRecord

RECEIVED = datetime(2026, 3, 2, 10, 16, tzinfo=UTC)
CONVERSATION = "9c1f0b7e-2a44-4d3b-8f2e-6e5d4c3b2a10"
FLOW = "7d2a3b1e-5c0f-4f6e-9a41-2b8e0c9d1f37"


def read(message: dict[str, Any]) -> tuple[list[EventRecord], list[dict[str, str]]]:
    errors: list[dict[str, str]] = []
    events = read_notification(
        message, path="", source="notification", received_at=RECEIVED, errors=errors
    )
    return events, errors


def detail(phase: str, **body: Any) -> dict[str, Any]:
    return {
        "topicName": f"v2.detail.events.conversation.{CONVERSATION}.flow.{phase}",
        "version": "2",
        "eventBody": {
            "eventTime": 1772446504870,
            "conversationId": CONVERSATION,
            "sessionId": "s-1",
            "flowId": FLOW,
            "flowType": "INBOUNDCALL",
            "flowVersion": "12.0",
            **body,
        },
        "metadata": {"CorrelationId": "b1c2d3e4"},
    }


def test_flow_start_becomes_a_start_event() -> None:
    events, errors = read(detail("start"))
    assert errors == []
    [start] = events
    assert (start.kind, start.conversation_id, start.flow_id, start.node_type) == (
        "start",
        CONVERSATION,
        FLOW,
        "INBOUNDCALL",
    )
    assert start.occurred_at == datetime(2026, 3, 2, 10, 15, 4, 870000, tzinfo=UTC)


def test_a_normal_flow_end_becomes_complete() -> None:
    events, _ = read(detail("end", exitReason="FLOW_EXIT", disconnectType="ENDPOINT"))
    assert [(e.kind, e.outcome) for e in events] == [("complete", "completed")]


def test_an_error_flow_end_becomes_error_then_failed_complete() -> None:
    events, _ = read(detail("end", exitReason="FLOW_ERROR_DISCONNECT", disconnectType="ERROR"))
    assert [(e.kind, e.error_code) for e in events] == [
        ("error", "FLOW_ERROR_DISCONNECT"),
        ("complete", "FLOW_ERROR_DISCONNECT"),
    ]
    assert events[1].outcome == "failed"


def test_outcome_milestones_become_node_exits() -> None:
    events, _ = read(
        detail(
            "outcome",
            flowOutcomeId="o-1",
            flowOutcomeValue="SUCCESS",
            flowOutcomeEndTime=1772446505000,
            flowMilestones=[{"milestoneId": "m-1", "milestoneTime": 1772446504900}],
        )
    )
    assert [(e.kind, e.node_id, e.node_type) for e in events] == [
        ("node_exit", "m-1", "milestone"),
        ("node_exit", "o-1", "outcome"),
    ]
    assert events[1].output_path == "SUCCESS"


def instances(**body: Any) -> dict[str, Any]:
    return {
        "topicName": f"v2.flows.instances.flow.{FLOW}",
        "version": "2",
        "eventBody": {
            "executionId": "x-1",
            "flowId": FLOW,
            "flowVersion": "3.0",
            "startDateTime": "2026-03-02T10:15:00.200Z",
            "endDateTime": "2026-03-02T10:15:04.850Z",
            "flowExitReason": "FLOW_ERROR_EXIT",
            "execution": [
                {
                    "objectType": "Task",
                    "objectId": "task-main",
                    "executionId": "i-1",
                    "startDateTime": "2026-03-02T10:15:00.210Z",
                },
                {
                    "objectType": "Action",
                    "objectId": "act-lookup",
                    "executionId": "i-2",
                    "outputPathId": "__SUCCESS__",
                    "startDateTime": "2026-03-02T10:15:00.250Z",
                },
                {
                    "objectType": "Action",
                    "objectId": "act-notify",
                    "executionId": "i-3",
                    "startDateTime": "2026-03-02T10:15:01.010Z",
                    "error": {
                        "reason": "DATA_ACTION_FAILED",
                        "executionId": "i-3",
                        "objectId": "act-notify",
                    },
                },
            ],
            "errors": [
                {"reason": "DATA_ACTION_FAILED", "executionId": "i-3", "objectId": "act-notify"}
            ],
            **body,
        },
        "metadata": {"CorrelationId": "c-9"},
    }


def test_execution_items_become_enters_with_exits_at_the_next_items_start() -> None:
    events, errors = read(instances())
    assert errors == []
    summary = [(e.kind, e.node_id, e.occurred_at.strftime("%S.%f")[:6]) for e in events]
    assert summary == [
        ("start", None, "00.200"),
        ("node_enter", "task-main", "00.210"),
        ("node_exit", "task-main", "00.250"),
        ("node_enter", "act-lookup", "00.250"),
        ("node_exit", "act-lookup", "01.010"),
        ("node_enter", "act-notify", "01.010"),
        ("error", "act-notify", "01.010"),
        ("node_exit", "act-notify", "04.850"),
        ("complete", None, "04.850"),
    ]
    assert events[4].output_path == "__SUCCESS__"
    assert events[6].error_code == "DATA_ACTION_FAILED"
    assert (events[-1].outcome, events[-1].error_code) == ("failed", "FLOW_ERROR_EXIT")
    assert {e.flow_execution_id for e in events} == {"x-1"}


def test_a_running_instance_has_no_exit_for_its_last_item_and_no_complete() -> None:
    events, _ = read(instances(endDateTime=None, errors=[], flowExitReason=None))
    kinds = [(e.kind, e.node_id) for e in events]
    assert ("node_exit", "act-notify") not in kinds
    assert all(kind != "complete" for kind, _ in kinds)


def test_the_same_instance_message_yields_the_same_dedupe_keys() -> None:
    first, _ = read(instances())
    again, _ = read({**instances(), "metadata": {"CorrelationId": "another"}})
    assert [e.dedupe_key for e in first] == [e.dedupe_key for e in again]
    assert len({e.dedupe_key for e in first}) == len(first)


def test_an_unsupported_topic_is_reported() -> None:
    events, errors = read({"topicName": "v2.users.u-1.presence", "eventBody": {}})
    assert events == []
    assert errors[0]["field"] == "topicName"
    assert "unsupported topic" in errors[0]["problem"]


def test_an_item_without_object_id_is_read_for_what_it_carries() -> None:
    message = instances()
    started = {"objectType": "startedFlow", "executionId": "i-0"}
    message["eventBody"]["execution"].insert(
        0, {**started, "startDateTime": "2026-03-02T10:15:00.205Z"}
    )
    message["eventBody"]["execution"][2].pop("objectId")
    events, errors = read(message)
    assert errors == []
    nodes = [(e.kind, e.node_id) for e in events if e.kind in ("node_enter", "node_exit")]
    # No visit of the id-less items, but the visit before the second one ends at its start.
    assert nodes == [
        ("node_enter", "task-main"),
        ("node_exit", "task-main"),
        ("node_enter", "act-notify"),
        ("node_exit", "act-notify"),
    ]
    assert events[-1].kind == "complete"


def test_an_item_without_object_id_keeps_its_error() -> None:
    message = instances(errors=[])
    item = message["eventBody"]["execution"][2]
    item.pop("objectId")
    item["error"].pop("objectId")
    events, errors = read(message)
    assert errors == []
    [error] = [e for e in events if e.kind == "error"]
    assert (error.node_id, error.error_code) == (None, "DATA_ACTION_FAILED")


@pytest.mark.parametrize(
    "topic",
    ["channel.metadata", "v2.system.socket_closing", "v2.system.no_longer_subscribed.c-1"],
)
def test_system_frames_are_no_events_and_no_problems(topic: str) -> None:
    assert read({"topicName": topic, "eventBody": {"message": "WebSocket Heartbeat"}}) == ([], [])


def test_an_eventbridge_delivery_keeps_the_envelope_identity_in_raw() -> None:
    envelope = {"id": "e-1", "source": "aws.partner/genesys.com/cloud/org-1/x", "time": "t"}
    envelope["detail-type"] = "v2.flows.instances.flow.{id}"
    errors: list[dict[str, str]] = []
    events = read_notification(
        instances(),
        path="detail.",
        source="eventbridge",
        received_at=RECEIVED,
        errors=errors,
        envelope=envelope,
    )
    assert errors == []
    for event in events:
        raw = orjson.loads(event.raw)
        assert {k: raw[k] for k in envelope} == envelope
        assert isinstance(raw["detail"], dict)


def test_a_truncated_list_leaves_its_last_visit_open_for_the_full_record() -> None:
    events, errors = read(instances(executionItemsTruncated=True))
    assert errors == []
    exits = [e.node_id for e in events if e.kind == "node_exit"]
    assert exits == ["task-main", "act-lookup"]
    assert events[-1].kind == "complete"
