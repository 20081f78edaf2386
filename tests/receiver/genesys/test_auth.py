from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable

import httpx
import pytest

from receiver.api.refusals import refusal_status
from receiver.genesys import (
    GenesysAuthError,
    GenesysBadResponse,
    GenesysClient,
    GenesysUnavailable,
)
from tests.receiver.genesys.conftest import SECRET, FakeClock, FakeGenesys, error_body, reply

EXECUTION = "/api/v2/flows/executions/e-1"
RUNNING = {"id": "e-1", "status": "RUNNING"}


async def test_token_request_uses_basic_auth_and_only_grant_type(
    fake: FakeGenesys, client: GenesysClient
) -> None:
    fake.on("GET", EXECUTION, reply(200, RUNNING))

    await client.get_execution("e-1")

    (request,) = fake.token_requests
    assert request.method == "POST"
    assert str(request.url) == "https://login.test/oauth/token"
    expected = base64.b64encode(f"client-id:{SECRET}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {expected}"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.content == b"grant_type=client_credentials"
    assert fake.requests[0].headers["Authorization"] == "Bearer token-1"


async def test_token_is_requested_once_by_concurrent_callers(
    fake: FakeGenesys, client: GenesysClient
) -> None:
    fake.on("GET", EXECUTION, reply(200, RUNNING))

    await asyncio.gather(*(client.get_execution("e-1") for _ in range(20)))

    assert len(fake.token_requests) == 1
    assert len(fake.requests) == 20


async def test_token_is_reused_until_shortly_before_it_expires(
    fake: FakeGenesys, clock: FakeClock, build_client: Callable[..., GenesysClient]
) -> None:
    fake.expires_in = 300
    fake.on("GET", EXECUTION, reply(200, RUNNING))
    client = build_client(token_renew_margin_seconds=60)

    await client.get_execution("e-1")
    clock.now += 239
    await client.get_execution("e-1")
    assert len(fake.token_requests) == 1

    clock.now += 2
    await client.get_execution("e-1")
    assert len(fake.token_requests) == 2
    assert fake.requests[-1].headers["Authorization"] == "Bearer token-2"


async def test_expired_token_is_renewed_once_on_401_and_the_call_repeated(
    fake: FakeGenesys, client: GenesysClient
) -> None:
    fake.on(
        "GET",
        EXECUTION,
        reply(401, error_body(401, "authentication.required")),
        reply(200, RUNNING),
    )

    execution = await client.get_execution("e-1")

    assert execution.id == "e-1"
    assert [r.headers["Authorization"] for r in fake.requests] == [
        "Bearer token-1",
        "Bearer token-2",
    ]


async def test_a_second_401_is_an_auth_error(fake: FakeGenesys, client: GenesysClient) -> None:
    fake.on("GET", EXECUTION, reply(401, error_body(401, "bad.credentials")))

    with pytest.raises(GenesysAuthError) as caught:
        await client.get_execution("e-1")

    assert caught.value.http_status == 401
    assert refusal_status(caught.value) == 502
    assert len(fake.token_requests) == 2
    assert len(fake.requests) == 2


async def test_concurrent_401s_renew_the_token_once(
    fake: FakeGenesys, client: GenesysClient
) -> None:
    def by_token(request: httpx.Request) -> httpx.Response:
        if request.headers["Authorization"] == "Bearer token-1":
            return reply(401, error_body(401, "credentials.expired"))(request)
        return reply(200, RUNNING)(request)

    fake.on("GET", EXECUTION, by_token)
    await client.get_execution("e-1")  # token-1 is now cached

    await asyncio.gather(*(client.get_execution("e-1") for _ in range(5)))

    assert len(fake.token_requests) == 2


@pytest.mark.parametrize("token_type", ["bearer", "Bearer", "BEARER"])
async def test_token_type_is_compared_case_insensitively(
    fake: FakeGenesys, client: GenesysClient, token_type: str
) -> None:
    fake.token_type = token_type
    fake.on("GET", EXECUTION, reply(200, RUNNING))

    assert (await client.get_execution("e-1")).id == "e-1"


async def test_a_token_of_another_type_is_refused(fake: FakeGenesys, client: GenesysClient) -> None:
    fake.token_type = "mac"

    with pytest.raises(GenesysBadResponse, match="token_type"):
        await client.get_execution("e-1")
    assert fake.requests == []


async def test_rejected_client_credentials_are_an_auth_error(
    fake: FakeGenesys, client: GenesysClient
) -> None:
    fake.token_outcomes.append(
        reply(401, {"error": "invalid_client", "description": "client not found"})
    )

    with pytest.raises(GenesysAuthError) as caught:
        await client.get_execution("e-1")

    assert caught.value.genesys_code == "invalid_client"
    assert "invalid_client" in str(caught.value)
    assert SECRET not in str(caught.value)
    assert len(fake.token_requests) == 1
    assert fake.requests == []


async def test_an_unreachable_login_host_is_retried(
    fake: FakeGenesys, clock: FakeClock, client: GenesysClient
) -> None:
    fake.token_outcomes.extend([httpx.ConnectError("refused"), reply(503, text="<html>")])
    fake.on("GET", EXECUTION, reply(200, RUNNING))

    assert (await client.get_execution("e-1")).id == "e-1"
    assert len(fake.token_requests) == 3
    assert len(clock.sleeps) == 2


async def test_a_login_host_that_stays_down_is_unavailable(
    fake: FakeGenesys, build_client: Callable[..., GenesysClient]
) -> None:
    fake.token_outcomes.extend([httpx.ConnectError("refused")] * 3)
    client = build_client(max_attempts=3)

    with pytest.raises(GenesysUnavailable) as caught:
        await client.get_execution("e-1")
    assert caught.value.attempts == 3


async def test_a_token_without_expires_in_lives_the_shortest_allowed_lifetime(
    fake: FakeGenesys, clock: FakeClock, build_client: Callable[..., GenesysClient]
) -> None:
    fake.token_outcomes.append(reply(200, {"access_token": "t", "token_type": "bearer"}))
    fake.on("GET", EXECUTION, reply(200, RUNNING))
    client = build_client(token_renew_margin_seconds=60)

    await client.get_execution("e-1")
    clock.now += 241
    await client.get_execution("e-1")

    assert len(fake.token_requests) == 2


async def test_a_rate_limited_token_request_waits_for_retry_after(
    fake: FakeGenesys, clock: FakeClock, client: GenesysClient
) -> None:
    fake.token_outcomes.append(reply(429, {"error": "slow down"}, headers={"Retry-After": "4"}))
    fake.on("GET", EXECUTION, reply(200, RUNNING))

    await client.get_execution("e-1")

    assert clock.sleeps == [pytest.approx(4)]
    assert len(fake.token_requests) == 2
