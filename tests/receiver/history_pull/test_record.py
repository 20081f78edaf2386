from datetime import UTC, datetime

import pytest

from receiver.history_pull.record import UnreadableRecord, read_record
from receiver.ingest.notifications import read_notification

RECEIVED = datetime(2026, 3, 2, 10, 16, tzinfo=UTC)

RECORD = {
    "flow": {
        "executionId": "x-1",
        "flowId": "f-1",
        "conversationId": "c-1",
        "division": {"id": "d-1"},
        "startDateTime": "2026-03-02T10:15:00.200Z",
        "endDateTime": "2026-03-02T10:15:04.850Z",
        "execution": [
            {"startedFlow": {"dateTime": "2026-03-02T10:15:00.200Z", "languageTag": "en-us"}},
            {
                "startedTask": {
                    "taskId": "task-main",
                    "taskName": "Main",
                    "dateTime": "2026-03-02T10:15:00.210Z",
                    "executionId": "i-1",
                    "execution": [
                        {
                            "actionCallData": {
                                "actionId": "act-lookup",
                                "actionName": "Look up",
                                "dateTime": "2026-03-02T10:15:00.250Z",
                                "executionId": "i-2",
                                "outputPathId": "__SUCCESS__",
                            }
                        },
                        {
                            "actionCallData": {
                                "actionId": "act-notify",
                                "dateTime": "2026-03-02T10:15:01.010Z",
                                "executionId": "i-3",
                                "errors": [
                                    {
                                        "reason": "DATA_ACTION_FAILED",
                                        "executionId": "i-3",
                                        "objectId": "act-notify",
                                    }
                                ],
                            }
                        },
                    ],
                }
            },
            {"endedTask": {"taskName": "Main", "dateTime": "2026-03-02T10:15:04.850Z"}},
            {
                "endedFlow": {
                    "dateTime": "2026-03-02T10:15:04.850Z",
                    "flowExitReason": "FLOW_ERROR_EXIT",
                }
            },
        ],
    }
}

#: The same run as pushed on v2.flows.instances.flow (genesys-api.md §5.4).
PUSHED = {
    "topicName": "v2.flows.instances.flow.f-1",
    "eventBody": {
        "executionId": "x-1",
        "flowId": "f-1",
        "conversationId": "c-1",
        "startDateTime": "2026-03-02T10:15:00.200Z",
        "endDateTime": "2026-03-02T10:15:04.850Z",
        "flowExitReason": "FLOW_ERROR_EXIT",
        "execution": [
            {"objectType": "startedFlow", "startDateTime": "2026-03-02T10:15:00.200Z"},
            {
                "objectType": "Task",
                "objectId": "task-main",
                "executionId": "i-1",
                "startDateTime": "2026-03-02T10:15:00.210Z",
            },
            {
                "objectType": "CallData",
                "objectId": "act-lookup",
                "executionId": "i-2",
                "outputPathId": "__SUCCESS__",
                "startDateTime": "2026-03-02T10:15:00.250Z",
            },
            {
                "objectType": "CallData",
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
    },
}


def test_nested_items_become_visits_in_document_order_with_names() -> None:
    events = read_record(RECORD, instance_id="x-1", received_at=RECEIVED, launch_id="l-1")
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
    assert {e.source for e in events} == {"history"}
    assert {e.launch_id for e in events} == {"l-1"}
    assert [e.node_name for e in events if e.kind == "node_enter"] == ["Main", "Look up", None]
    assert [e.node_type for e in events if e.kind == "node_enter"] == [
        "Task",
        "CallData",
        "CallData",
    ]
    assert (events[-1].outcome, events[-1].error_code) == ("failed", "FLOW_ERROR_EXIT")


def test_the_record_and_the_pushed_message_of_one_run_share_every_dedupe_key() -> None:
    pulled = read_record(RECORD, instance_id="x-1", received_at=RECEIVED)
    errors: list[dict[str, str]] = []
    pushed = read_notification(
        PUSHED, path="", source="notification", received_at=RECEIVED, errors=errors
    )
    assert errors == []
    assert {(e.kind, e.dedupe_key) for e in pulled} == {(e.kind, e.dedupe_key) for e in pushed}
    assert {(e.dedupe_key, e.occurred_at) for e in pulled} == {
        (e.dedupe_key, e.occurred_at) for e in pushed
    }


def test_without_an_execution_id_the_instance_id_names_the_run() -> None:
    record = {"flow": {**RECORD["flow"], "executionId": None}}
    events = read_record(record, instance_id="inst-9", received_at=RECEIVED)
    assert {e.flow_execution_id for e in events} == {"inst-9"}


@pytest.mark.parametrize("document", [{}, {"flow": []}, {"flow": {"execution": {}}}, []])
def test_a_file_that_is_no_record_is_refused(document: object) -> None:
    with pytest.raises(UnreadableRecord):
        read_record(document, instance_id="x-1", received_at=RECEIVED)
