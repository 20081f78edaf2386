from datetime import UTC, datetime

import pytest

from receiver.ingest.canonical import read_canonical
from storage.records import EventRecord

RECEIVED = datetime(2026, 3, 2, 10, 16, tzinfo=UTC)


def read(
    obj: dict[str, object], delivery_id: str | None = None
) -> tuple[EventRecord | None, list[dict[str, str]]]:
    errors: list[dict[str, str]] = []
    record = read_canonical(
        obj, path="", raw="{}", received_at=RECEIVED, delivery_id=delivery_id, errors=errors
    )
    return record, errors


def test_a_full_callback_maps_every_field() -> None:
    record, errors = read(
        {
            "event": "node_exit",
            "eventId": "e-1",
            "launchId": "l-1",
            "flowExecutionId": "x-1",
            "conversationId": "c-1",
            "flowId": "f-1",
            "flowVersion": 3,
            "nodeId": "n-1",
            "nodeType": "Action",
            "nodeName": "Lookup",
            "outputPath": "__SUCCESS__",
            "errorCode": None,
            "message": "",
            "occurredAt": "2026-03-02T10:15:00.120Z",
            "attributes": {"k": "v"},
        }
    )
    assert errors == []
    assert record is not None
    assert (record.kind, record.source) == ("node_exit", "data_action")
    assert record.occurred_at == datetime(2026, 3, 2, 10, 15, 0, 120000, tzinfo=UTC)
    assert (record.launch_id, record.flow_execution_id, record.conversation_id) == (
        "l-1",
        "x-1",
        "c-1",
    )
    assert (record.flow_version, record.node_name, record.output_path) == (
        "3",
        "Lookup",
        "__SUCCESS__",
    )
    assert record.error_message is None


@pytest.mark.parametrize(
    ("alias", "kind"),
    [
        ("flow:node:enter", "node_enter"),
        ("flow:node:exit", "node_exit"),
        ("flow:error", "error"),
        ("flow:complete", "complete"),
    ],
)
def test_seed_event_type_aliases_are_accepted(alias: str, kind: str) -> None:
    record, _ = read({"eventType": alias, "launchId": "l-1"})
    assert record is not None
    assert record.kind == kind


def test_execution_id_is_accepted_for_flow_execution_id() -> None:
    record, _ = read({"event": "start", "executionId": "x-9"})
    assert record is not None
    assert record.flow_execution_id == "x-9"


def test_a_missing_time_means_the_time_of_arrival() -> None:
    record, _ = read({"event": "start", "launchId": "l-1"})
    assert record is not None
    assert record.occurred_at == RECEIVED


def test_epoch_milliseconds_are_accepted_as_time() -> None:
    record, _ = read({"event": "start", "launchId": "l-1", "occurredAt": 1772446504870})
    assert record is not None
    assert record.occurred_at == datetime(2026, 3, 2, 10, 15, 4, 870000, tzinfo=UTC)


def test_every_problem_is_reported_with_its_field() -> None:
    record, errors = read(
        {"event": "node_wander", "nodeId": {"x": 1}, "occurredAt": "yesterday", "attributes": []}
    )
    assert record is None
    fields = {error["field"] for error in errors}
    assert fields == {"event", "nodeId", "occurredAt", "launchId", "attributes"}


def test_contradicting_event_and_event_type_are_refused() -> None:
    record, errors = read({"event": "start", "eventType": "flow:error", "launchId": "l-1"})
    assert record is None
    assert errors[0]["field"] == "eventType"


def test_an_overlong_id_is_refused() -> None:
    _, errors = read({"event": "start", "launchId": "l" * 500})
    assert errors == [
        {"field": "launchId", "problem": "is 500 characters long; at most 128 allowed"}
    ]


def test_the_event_id_decides_identity_when_given() -> None:
    first, _ = read({"event": "node_enter", "eventId": "e-1", "launchId": "l-1", "nodeId": "a"})
    again, _ = read({"event": "node_enter", "eventId": "e-1", "launchId": "l-1", "nodeId": "b"})
    exit_, _ = read({"event": "node_exit", "eventId": "e-1", "launchId": "l-1", "nodeId": "a"})
    assert first is not None and again is not None and exit_ is not None
    assert first.dedupe_key == again.dedupe_key
    assert first.dedupe_key != exit_.dedupe_key


def test_without_ids_identical_fields_are_the_same_event_and_new_times_are_not() -> None:
    body = {
        "event": "node_enter",
        "launchId": "l-1",
        "nodeId": "a",
        "occurredAt": "2026-03-02T10:15:00Z",
    }
    first, _ = read(body)
    again, _ = read(dict(body))
    loop, _ = read({**body, "occurredAt": "2026-03-02T10:15:09Z"})
    assert first is not None and again is not None and loop is not None
    assert first.dedupe_key == again.dedupe_key
    assert first.dedupe_key != loop.dedupe_key


def test_a_signed_delivery_id_decides_identity_without_an_event_id() -> None:
    first, _ = read({"event": "start", "launchId": "l-1"}, delivery_id="msg_1")
    retried, _ = read({"event": "start", "launchId": "l-1", "nodeName": "x"}, delivery_id="msg_1")
    assert first is not None and retried is not None
    assert first.dedupe_key == retried.dedupe_key
