"""Every message the sandbox emits (recorded under tests/sandbox/payloads) is readable."""

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from receiver.ingest.payloads import UninterpretableBody, is_ignored, read_payload

PAYLOADS = Path(__file__).parents[2] / "sandbox" / "payloads"
RECEIVED = datetime(2026, 3, 2, 10, 16, tzinfo=UTC)


def read(name: str) -> list[tuple[str, str]]:
    body = (PAYLOADS / name).read_bytes()
    events = read_payload(orjson.loads(body), body=body, received_at=RECEIVED, webhook_id=None)
    return [(event.kind, event.source) for event in events]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("data-action-callback.json", [("node_exit", "data_action")]),
        ("data-action-callback-error.json", [("error", "data_action")]),
        ("notification-flow-start.json", [("start", "notification")]),
        ("notification-flow-end.json", [("complete", "notification")]),
        ("eventbridge-envelope.json", [("complete", "eventbridge")]),
    ],
)
def test_recorded_sandbox_messages_become_the_expected_events(
    name: str, expected: list[tuple[str, str]]
) -> None:
    assert read(name) == expected


def test_a_recorded_execution_history_becomes_a_full_node_history() -> None:
    kinds = [kind for kind, _ in read("notification-flow-execution-history.json")]
    assert kinds[0] == "start"
    assert kinds[-1] == "complete"
    assert kinds.count("node_enter") == kinds.count("node_exit") > 0


@pytest.mark.parametrize(
    "name",
    ["channel-metadata-heartbeat.json", "channel-metadata-pong.json", "system-socket-closing.json"],
)
def test_channel_housekeeping_messages_are_ignored_not_refused(name: str) -> None:
    body = (PAYLOADS / name).read_bytes()
    assert read(name) == []
    assert is_ignored(orjson.loads(body))


def test_an_eventbridge_envelope_keeps_its_id_source_time_and_detail_type() -> None:
    body = (PAYLOADS / "eventbridge-envelope.json").read_bytes()
    envelope = orjson.loads(body)
    [event] = read_payload(envelope, body=body, received_at=RECEIVED, webhook_id=None)
    raw = orjson.loads(event.raw)
    for name in ("id", "source", "time", "detail-type"):
        assert raw[name] == envelope[name]
    assert raw["detail"] == envelope["detail"]


def test_a_notification_on_an_unknown_topic_is_still_refused() -> None:
    payload = {"topicName": "v2.users.u-1.presence", "eventBody": {}}
    with pytest.raises(UninterpretableBody, match="unsupported topic"):
        read_payload(payload, body=b"{}", received_at=RECEIVED, webhook_id=None)
