"""Flows and conversations: wire fields in, typed results out."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from receiver.api.refusals import refusal_status
from receiver.genesys import (
    ExecutionStatus,
    FlowErrorInfo,
    GenesysBadResponse,
    GenesysClient,
    GenesysNotFound,
)
from tests.receiver.genesys.conftest import FakeClock, FakeGenesys, error_body, reply

EXECUTION = "/api/v2/flows/executions/e-1"
CONVERSATION = "/api/v2/conversations/c-1"


async def test_execution_is_read_from_its_wire_fields(
    fake: FakeGenesys, client: GenesysClient
) -> None:
    fake.on(
        "GET",
        EXECUTION,
        reply(
            200,
            {
                "id": "e-1",
                "name": "order-4711",
                "flowVersion": {"id": "3.0", "name": "3.0", "type": "PUBLISH"},
                "dateLaunched": "2026-03-02T10:15:00.120Z",
                "dateCompleted": "2026-03-02T10:15:04.870Z",
                "status": "ERROR",
                "completionReason": "Call Data Action failed",
                "flowErrorInfo": {
                    "message": "Data action returned 500",
                    "code": "flow.failed",
                    "status": 500,
                    "messageParams": {},
                    "details": [],
                },
                "conversation": {"id": "c-1", "selfUri": "/api/v2/conversations/c-1"},
                "selfUri": "/api/v2/flows/executions/e-1",
                "someFutureField": {"x": 1},
            },
        ),
    )

    execution = await client.get_execution("e-1")

    assert execution.status is ExecutionStatus.ERROR
    assert execution.status.is_terminal
    assert execution.status.is_failure
    assert execution.flow_version == "3.0"
    assert execution.date_launched == datetime(2026, 3, 2, 10, 15, 0, 120000, tzinfo=UTC)
    assert execution.date_completed == datetime(2026, 3, 2, 10, 15, 4, 870000, tzinfo=UTC)
    assert execution.completion_reason == "Call Data Action failed"
    assert execution.error == FlowErrorInfo("flow.failed", "Data action returned 500", 500)
    assert execution.conversation_id == "c-1"
    assert execution.output_data is None
    assert execution.raw["someFutureField"] == {"x": 1}


async def test_completed_execution_carries_its_output(
    fake: FakeGenesys, client: GenesysClient
) -> None:
    fake.on(
        "GET",
        EXECUTION,
        reply(200, {"id": "e-1", "status": "COMPLETED", "outputData": {"Flow.result": "ok"}}),
    )

    execution = await client.get_execution("e-1")

    assert execution.status is ExecutionStatus.COMPLETED
    assert not execution.status.is_failure
    assert execution.output_data == {"Flow.result": "ok"}
    assert execution.error is None


@pytest.mark.parametrize(
    ("wire_status", "status"),
    [
        (None, ExecutionStatus.UNKNOWN),
        ("PAUSED", ExecutionStatus.UNKNOWN),
        ("running", ExecutionStatus.RUNNING),
        (7, ExecutionStatus.UNKNOWN),
    ],
)
async def test_missing_or_unknown_fields_are_tolerated(
    fake: FakeGenesys, client: GenesysClient, wire_status: object, status: ExecutionStatus
) -> None:
    fake.on(
        "GET",
        EXECUTION,
        reply(
            200,
            {
                "id": "e-1",
                "status": wire_status,
                "dateLaunched": "not a date",
                "flowVersion": "3.0",
            },
        ),
    )

    execution = await client.get_execution("e-1")

    assert execution.status is status
    assert not execution.status.is_terminal
    assert execution.date_launched is None
    assert execution.flow_version is None


async def test_an_aged_out_execution_is_not_found(fake: FakeGenesys, client: GenesysClient) -> None:
    fake.on("GET", EXECUTION, reply(404, error_body(404, "not.found")))

    with pytest.raises(GenesysNotFound) as caught:
        await client.get_execution("e-1")
    assert type(caught.value) is GenesysNotFound


@pytest.mark.parametrize(
    "answer",
    [
        reply(200, text="<html>ok?</html>"),
        reply(200, ["not", "an", "object"]),
        reply(200, {"status": "RUNNING"}),
    ],
)
async def test_an_unusable_success_body_is_a_bad_response(
    fake: FakeGenesys, client: GenesysClient, answer: object
) -> None:
    fake.on("GET", EXECUTION, answer)  # type: ignore[arg-type]

    with pytest.raises(GenesysBadResponse) as caught:
        await client.get_execution("e-1")
    assert refusal_status(caught.value) == 502
    assert len(fake.requests) == 1


async def test_ids_stay_one_path_segment(fake: FakeGenesys, client: GenesysClient) -> None:
    fake.on("GET", "/api/v2/flows/executions/../../users", reply(200, {"id": "x"}))

    await client.get_execution("../../users")

    assert fake.requests[0].url.raw_path == b"/api/v2/flows/executions/..%2F..%2Fusers"
    with pytest.raises(ValueError, match="empty"):
        await client.get_execution("")


async def test_conversation_is_read_with_participants_and_media(
    fake: FakeGenesys, client: GenesysClient
) -> None:
    fake.on(
        "GET",
        CONVERSATION,
        reply(
            200,
            {
                "id": "c-1",
                "startTime": "2026-03-02T10:14:58.004Z",
                "endTime": None,
                "address": "tel:+15555550100",
                "participants": [
                    {
                        "id": "p-cust-1",
                        "purpose": "customer",
                        "ani": "tel:+1555",
                        "startTime": "2026-03-02T10:14:58.004Z",
                        "attributes": {"a": "1", "b": 2},
                        "calls": [{"id": "c-1", "state": "connected", "direction": "inbound"}],
                    },
                    {
                        "id": "p-ivr-1",
                        "purpose": "ivr",
                        "calls": [
                            {
                                "id": "c-2",
                                "state": "disconnected",
                                "disconnectType": "endpoint",
                                "disconnectedTime": "2026-03-02T10:15:30Z",
                            }
                        ],
                    },
                ],
                "recordingState": "NONE",
            },
        ),
    )

    conversation = await client.get_conversation("c-1")

    assert conversation.end_time is None
    assert not conversation.ended
    customer, ivr = conversation.participants
    assert (customer.purpose, customer.ani, customer.attributes) == (
        "customer",
        "tel:+1555",
        {"a": "1"},
    )
    assert customer.media[0].kind == "calls"
    assert not customer.ended
    assert ivr.ended
    assert ivr.media[0].disconnect_type == "endpoint"
    assert ivr.media[0].disconnected_time == datetime(2026, 3, 2, 10, 15, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("body", "ended"),
    [
        ({"id": "c-1", "endTime": "2026-03-02T10:20:00Z"}, True),
        (
            {
                "id": "c-1",
                "participants": [
                    {"calls": [{"state": "terminated"}]},
                    {"endTime": "2026-03-02T10:20:00Z"},
                ],
            },
            True,
        ),
        ({"id": "c-1", "participants": [{"calls": [{"state": "connected"}]}]}, False),
        ({"id": "c-1", "participants": [{"id": "p"}]}, False),
        ({"id": "c-1"}, False),
    ],
)
async def test_conversation_end_is_told_by_end_time_then_media_states(
    fake: FakeGenesys, client: GenesysClient, body: dict[str, object], ended: bool
) -> None:
    fake.on("GET", CONVERSATION, reply(200, body))

    assert (await client.get_conversation("c-1")).ended is ended


async def test_disconnect_accepts_202_with_a_json_string(
    fake: FakeGenesys, client: GenesysClient
) -> None:
    fake.on("POST", f"{CONVERSATION}/disconnect", reply(202, "Accepted"))

    await client.disconnect_conversation("c-1")

    assert fake.requests[0].method == "POST"
    assert fake.requests[0].content == b""


async def test_disconnect_is_retried_like_a_read(fake: FakeGenesys, client: GenesysClient) -> None:
    fake.on("POST", f"{CONVERSATION}/disconnect", reply(503), reply(202, text="whatever"))

    await client.disconnect_conversation("c-1")

    assert len(fake.requests) == 2


@pytest.mark.parametrize("status", [200, 204])
async def test_delete_conversation_succeeds_with_or_without_body(
    fake: FakeGenesys, client: GenesysClient, status: int
) -> None:
    fake.on("DELETE", CONVERSATION, reply(status))

    await client.delete_conversation("c-1")

    assert fake.requests[0].method == "DELETE"


async def test_server_rate_limit_headers_slow_the_next_call(
    fake: FakeGenesys, clock: FakeClock, client: GenesysClient
) -> None:
    spent = {
        "inin-ratelimit-count": "300",
        "inin-ratelimit-allowed": "300",
        "inin-ratelimit-reset": "10",
    }
    fake.on("GET", EXECUTION, reply(200, {"id": "e-1"}, headers=spent))
    fake.on("GET", CONVERSATION, reply(200, {"id": "c-1"}))
    await client.get_execution("e-1")
    started = clock.now

    await client.get_conversation("c-1")

    assert clock.now - started == pytest.approx(10)
