"""Every message the sandbox emits (recorded under tests/sandbox/payloads) is readable."""

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from receiver.ingest.payloads import UninterpretableBody, read_payload

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
def test_channel_housekeeping_messages_are_not_events(name: str) -> None:
    with pytest.raises(UninterpretableBody, match="unsupported topic"):
        read(name)
