from __future__ import annotations

import httpx
import orjson
import pytest

from receiver.api.refusals import refusal_status
from receiver.genesys import (
    GenesysBadRequest,
    GenesysClient,
    GenesysNotFound,
    GenesysOutcomeUnknown,
    GenesysRateLimited,
)
from tests.receiver.genesys.conftest import FakeClock, FakeGenesys, error_body, reply

LAUNCH = "/api/v2/flows/executions"
LAUNCHED = {
    "id": "e3b4c2d1",
    "name": "order-4711-followup",
    "flowVersion": {"id": "3.0", "name": "3.0", "selfUri": "/api/v2/flows/f-1/versions/3.0"},
    "selfUri": "/api/v2/flows/executions/e3b4c2d1",
}


async def test_launch_sends_the_wire_fields_and_reads_the_answer(
    fake: FakeGenesys, client: GenesysClient
) -> None:
    fake.on("POST", LAUNCH, reply(200, LAUNCHED))

    launched = await client.launch_flow(
        "f-1", input_data={"Flow.launchId": "L-1"}, name="order-4711-followup"
    )

    (request,) = fake.requests
    assert orjson.loads(request.content) == {
        "flowId": "f-1",
        "inputData": {"Flow.launchId": "L-1"},
        "name": "order-4711-followup",
    }
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Accept"] == "application/json"
    assert (launched.id, launched.name, launched.flow_version) == (
        "e3b4c2d1",
        "order-4711-followup",
        "3.0",
    )


async def test_launch_of_a_given_version_sends_flow_version(
    fake: FakeGenesys, client: GenesysClient
) -> None:
    fake.on("POST", LAUNCH, reply(200, {"id": "e-2"}))

    launched = await client.launch_flow("f-1", flow_version="12.0")

    assert orjson.loads(fake.requests[0].content) == {"flowId": "f-1", "flowVersion": "12.0"}
    assert launched.flow_version is None
    assert launched.name is None


async def test_launch_is_retried_after_a_429(
    fake: FakeGenesys, clock: FakeClock, client: GenesysClient
) -> None:
    fake.on(
        "POST",
        LAUNCH,
        reply(429, error_body(429, "too.many.requests"), headers={"Retry-After": "3"}),
        reply(200, LAUNCHED),
    )

    assert (await client.launch_flow("f-1")).id == "e3b4c2d1"
    assert len(fake.requests) == 2
    assert clock.sleeps == [pytest.approx(3.0)]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_launch_is_not_retried_after_a_5xx(
    fake: FakeGenesys, clock: FakeClock, client: GenesysClient, status: int
) -> None:
    fake.on("POST", LAUNCH, reply(status, error_body(status, "service.unavailable")))

    with pytest.raises(GenesysOutcomeUnknown) as caught:
        await client.launch_flow("f-1")

    assert len(fake.requests) == 1
    assert clock.sleeps == []
    assert caught.value.http_status == status
    assert caught.value.code == "genesys_outcome_unknown"
    assert caught.value.correlation_id == f"ctx-{status}"


async def test_launch_is_not_retried_after_a_non_json_503(
    fake: FakeGenesys, client: GenesysClient
) -> None:
    fake.on("POST", LAUNCH, reply(503, text="<html>Service Unavailable</html>"))

    with pytest.raises(GenesysOutcomeUnknown):
        await client.launch_flow("f-1")
    assert len(fake.requests) == 1


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout("slow"),
        httpx.ReadError("reset"),
        httpx.RemoteProtocolError("closed"),
        httpx.DecodingError("bad gzip"),
    ],
)
async def test_launch_failing_after_it_was_sent_has_an_unknown_outcome(
    fake: FakeGenesys, client: GenesysClient, failure: Exception
) -> None:
    fake.on("POST", LAUNCH, failure)

    with pytest.raises(GenesysOutcomeUnknown) as caught:
        await client.launch_flow("f-1")

    assert len(fake.requests) == 1
    assert caught.value.http_status is None


@pytest.mark.parametrize(
    "failure", [httpx.ConnectError("refused"), httpx.ConnectTimeout("slow connect")]
)
async def test_launch_is_retried_when_no_connection_was_made(
    fake: FakeGenesys, client: GenesysClient, failure: Exception
) -> None:
    fake.on("POST", LAUNCH, failure, reply(200, LAUNCHED))

    assert (await client.launch_flow("f-1")).id == "e3b4c2d1"
    assert len(fake.requests) == 2


async def test_launch_is_repeated_once_after_a_401(
    fake: FakeGenesys, client: GenesysClient
) -> None:
    fake.on(
        "POST", LAUNCH, reply(401, error_body(401, "credentials.expired")), reply(200, LAUNCHED)
    )

    assert (await client.launch_flow("f-1")).id == "e3b4c2d1"
    assert len(fake.token_requests) == 2


async def test_launch_rejected_by_genesys_is_a_bad_request(
    fake: FakeGenesys, client: GenesysClient
) -> None:
    fake.on(
        "POST",
        LAUNCH,
        reply(
            400,
            error_body(400, "invalid.value", "Flow type cannot be launched"),
            headers={"ININ-Correlation-Id": "corr-9"},
        ),
    )

    with pytest.raises(GenesysBadRequest) as caught:
        await client.launch_flow("f-inbound")

    error = caught.value
    assert refusal_status(error) == 422
    assert (error.http_status, error.genesys_code, error.correlation_id) == (
        400,
        "invalid.value",
        "corr-9",
    )
    assert "Flow type cannot be launched" in error.message
    assert error.to_json() == {
        "error": "genesys_bad_request",
        "message": error.message,
        "detail": {"genesysStatus": 400, "genesysCode": "invalid.value", "correlationId": "corr-9"},
    }


async def test_launch_of_an_unknown_flow_is_not_found(
    fake: FakeGenesys, client: GenesysClient
) -> None:
    fake.on("POST", LAUNCH, reply(404, error_body(404, "not.found")))

    with pytest.raises(GenesysNotFound):
        await client.launch_flow("nope")


async def test_launch_rate_limited_beyond_the_budget_is_rate_limited_not_unknown(
    fake: FakeGenesys, client: GenesysClient
) -> None:
    fake.on("POST", LAUNCH, reply(429, error_body(429, "too.many.requests")))

    with pytest.raises(GenesysRateLimited) as caught:
        await client.launch_flow("f-1")
    assert caught.value.attempts == 5
