from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from receiver.api.refusals import refusal_status
from receiver.genesys import (
    GenesysBadRequest,
    GenesysClient,
    GenesysConflict,
    GenesysError,
    GenesysForbidden,
    GenesysNotFound,
    GenesysRateLimited,
    GenesysUnavailable,
)
from tests.receiver.genesys.conftest import FakeClock, FakeGenesys, error_body, reply

EXECUTION = "/api/v2/flows/executions/e-1"
RUNNING = {"id": "e-1", "status": "RUNNING"}
CDN_PAGE = "<html><body><h1>502 Bad Gateway</h1>CloudFront</body></html>"


def rate_limited(retry_after: str | None) -> Callable[[httpx.Request], httpx.Response]:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return reply(429, error_body(429, "too.many.requests"), headers=headers)


async def test_429_waits_for_retry_after_then_succeeds(
    fake: FakeGenesys, clock: FakeClock, client: GenesysClient
) -> None:
    fake.on("GET", EXECUTION, rate_limited("17"), reply(200, RUNNING))

    execution = await client.get_execution("e-1")

    assert execution.id == "e-1"
    assert len(fake.requests) == 2
    assert sum(clock.sleeps) == pytest.approx(17.0)


async def test_429_without_retry_after_backs_off(
    fake: FakeGenesys, clock: FakeClock, client: GenesysClient
) -> None:
    fake.on("GET", EXECUTION, rate_limited(None), reply(200, RUNNING))

    await client.get_execution("e-1")

    assert clock.sleeps == [pytest.approx(0.25)]  # half of the 0.5 s base, zero jitter


async def test_429_with_retry_after_above_the_cap_is_not_waited_for(
    fake: FakeGenesys, clock: FakeClock, client: GenesysClient
) -> None:
    fake.on("GET", EXECUTION, rate_limited("3600"))

    with pytest.raises(GenesysRateLimited) as caught:
        await client.get_execution("e-1")

    assert caught.value.retry_after == 3600
    assert refusal_status(caught.value) == 503
    assert caught.value.genesys_code == "too.many.requests"
    assert len(fake.requests) == 1
    assert clock.sleeps == []


async def test_429_that_outlasts_the_time_budget_is_raised(
    fake: FakeGenesys, build_client: Callable[..., GenesysClient]
) -> None:
    fake.on("GET", EXECUTION, rate_limited("90"))
    client = build_client(max_retry_seconds=60)

    with pytest.raises(GenesysRateLimited) as caught:
        await client.get_execution("e-1")
    assert caught.value.to_json()["detail"]["retryAfterSeconds"] == 90


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_gateway_errors_are_retried_with_growing_backoff_until_attempts_run_out(
    fake: FakeGenesys, clock: FakeClock, client: GenesysClient, status: int
) -> None:
    fake.on("GET", EXECUTION, reply(status, error_body(status, "service.unavailable")))

    with pytest.raises(GenesysUnavailable) as caught:
        await client.get_execution("e-1")

    assert len(fake.requests) == 5
    assert caught.value.attempts == 5
    assert caught.value.http_status == status
    assert clock.sleeps == pytest.approx([0.25, 0.5, 1.0, 2.0])


async def test_backoff_jitter_adds_up_to_half_the_step(
    fake: FakeGenesys, clock: FakeClock, http: httpx.AsyncClient
) -> None:
    from tests.receiver.genesys.conftest import make_config

    fake.on("GET", EXECUTION, reply(503), reply(503), reply(200, RUNNING))
    client = GenesysClient(
        make_config(), http, clock=clock, sleep=clock.sleep, random=lambda: 0.999
    )

    await client.get_execution("e-1")

    assert clock.sleeps == pytest.approx([0.4998, 0.9995], abs=1e-3)


async def test_retries_stop_when_the_time_budget_is_spent(
    fake: FakeGenesys, clock: FakeClock, build_client: Callable[..., GenesysClient]
) -> None:
    fake.on("GET", EXECUTION, reply(503))
    client = build_client(max_retry_seconds=1.0)

    with pytest.raises(GenesysUnavailable):
        await client.get_execution("e-1")

    # 0.25 + 0.5 fit in one second; the next 1.0 s wait would not.
    assert clock.sleeps == pytest.approx([0.25, 0.5])
    assert len(fake.requests) == 3


async def test_a_non_json_gateway_page_is_retried_then_succeeds(
    fake: FakeGenesys, client: GenesysClient
) -> None:
    fake.on("GET", EXECUTION, reply(502, text=CDN_PAGE), reply(200, RUNNING))

    assert (await client.get_execution("e-1")).id == "e-1"


async def test_a_non_json_error_page_becomes_a_readable_error(
    fake: FakeGenesys, build_client: Callable[..., GenesysClient]
) -> None:
    fake.on("GET", EXECUTION, reply(503, text=CDN_PAGE, headers={"Content-Type": "text/html"}))
    client = build_client(max_attempts=1)

    with pytest.raises(GenesysUnavailable) as caught:
        await client.get_execution("e-1")

    assert "non-JSON" in str(caught.value)
    assert "<html>" not in str(caught.value)
    assert caught.value.genesys_code is None


@pytest.mark.parametrize(
    ("status", "code", "error_type", "launch_status"),
    [
        (400, "bad.request", GenesysBadRequest, 422),
        (403, "missing.permissions", GenesysForbidden, 502),
        (404, "not.found", GenesysNotFound, 422),
        (408, "request.timeout", GenesysUnavailable, 503),
        (409, "conflict", GenesysConflict, 422),
        (413, "too.large", GenesysBadRequest, 422),
        (500, "internal.server.error", GenesysError, 502),
    ],
)
async def test_other_errors_are_never_retried(
    fake: FakeGenesys,
    clock: FakeClock,
    client: GenesysClient,
    status: int,
    code: str,
    error_type: type[GenesysError],
    launch_status: int,
) -> None:
    fake.on("GET", EXECUTION, reply(status, error_body(status, code)))

    with pytest.raises(error_type) as caught:
        await client.get_execution("e-1")

    assert type(caught.value) is error_type
    # What a launch refused with this error answers (receiver.api.refusals).
    assert refusal_status(caught.value) == launch_status
    assert caught.value.genesys_code == code
    assert len(fake.requests) == 1
    assert clock.sleeps == []


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectError("refused"),
        httpx.ConnectTimeout("slow connect"),
        httpx.ReadTimeout("slow read"),
        httpx.RemoteProtocolError("peer closed"),
    ],
)
async def test_transport_failures_of_a_read_are_retried(
    fake: FakeGenesys, client: GenesysClient, failure: Exception
) -> None:
    fake.on("GET", EXECUTION, failure, reply(200, RUNNING))

    assert (await client.get_execution("e-1")).id == "e-1"
    assert len(fake.requests) == 2


async def test_a_transport_failure_that_persists_is_unavailable(
    fake: FakeGenesys, build_client: Callable[..., GenesysClient]
) -> None:
    fake.on("GET", EXECUTION, httpx.ConnectError("refused"))
    client = build_client(max_attempts=2)

    with pytest.raises(GenesysUnavailable) as caught:
        await client.get_execution("e-1")

    assert caught.value.http_status is None
    assert refusal_status(caught.value) == 503
    assert "ConnectError" in str(caught.value)


async def test_a_429_holds_back_every_caller_for_its_retry_after(
    fake: FakeGenesys, clock: FakeClock, build_client: Callable[..., GenesysClient]
) -> None:
    fake.on("GET", EXECUTION, rate_limited("5"))
    fake.on("GET", "/api/v2/conversations/c-1", reply(200, {"id": "c-1"}))
    client = build_client(max_attempts=1)
    with pytest.raises(GenesysRateLimited):
        await client.get_execution("e-1")
    started = clock.now

    await client.get_conversation("c-1")

    assert clock.now - started == pytest.approx(5.0)


async def test_requests_carry_explicit_timeouts(
    fake: FakeGenesys, build_client: Callable[..., GenesysClient]
) -> None:
    fake.on("GET", EXECUTION, reply(200, RUNNING))
    client = build_client(request_timeout_seconds=7, connect_timeout_seconds=2)

    await client.get_execution("e-1")

    timeout = fake.requests[0].extensions["timeout"]
    assert timeout == {"connect": 2, "read": 7, "write": 7, "pool": 7}
