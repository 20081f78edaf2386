"""Login path, bearer checks, rate-limit headers, and ErrorBody on every error."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from sandbox.server import RunningSandbox, running_sandbox
from tests.sandbox.conftest import make_config, sandbox_client, token_for

RATE_HEADERS = ("inin-ratelimit-count", "inin-ratelimit-allowed", "inin-ratelimit-reset")


async def test_token_endpoint_issues_bearer_tokens_with_the_configured_lifetime() -> None:
    async with (
        running_sandbox(make_config(token_lifetime_seconds=600)) as sandbox,
        httpx.AsyncClient(base_url=sandbox.base_url) as client,
    ):
        response = await client.post(
            "/oauth/token",
            auth=("sandbox", "sandbox"),
            data={"grant_type": "client_credentials"},
        )

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 600


async def test_token_endpoint_rejects_bad_credentials_and_other_grants(
    sandbox: RunningSandbox,
) -> None:
    async with httpx.AsyncClient(base_url=sandbox.base_url) as client:
        wrong = await client.post(
            "/oauth/token", auth=("sandbox", "nope"), data={"grant_type": "client_credentials"}
        )
        grant = await client.post(
            "/oauth/token", auth=("sandbox", "sandbox"), data={"grant_type": "password"}
        )
        in_form = await client.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "sandbox",
                "client_secret": "sandbox",
            },
        )

    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"
    assert grant.status_code == 400
    assert grant.json()["error"] == "unsupported_grant_type"
    assert in_form.status_code == 200


async def test_every_response_carries_correlation_and_rate_limit_headers(
    api: httpx.AsyncClient, sandbox: RunningSandbox
) -> None:
    responses = [
        await api.get("/api/v2/flows"),
        await api.get("/api/v2/flows/unknown"),
        await api.get(f"{sandbox.base_url}/sandbox/stats"),
        await api.post(f"{sandbox.base_url}/oauth/token"),
    ]

    for response in responses:
        assert response.headers["ININ-Correlation-Id"]
        assert all(response.headers[name].isdigit() for name in RATE_HEADERS)
    assert responses[0].headers["inin-ratelimit-allowed"] == "300"


async def test_errors_are_error_bodies_whose_status_matches_and_context_is_the_correlation(
    api: httpx.AsyncClient,
) -> None:
    errors = [
        await api.get("/api/v2/flows/unknown"),
        await api.get("/api/v2/no/such/resource"),
        await api.post("/api/v2/flows/executions", content=b"{not json"),
        await api.post("/api/v2/flows/executions", json=["not", "an", "object"]),
        await api.put("/api/v2/flows"),
    ]

    assert [e.status_code for e in errors] == [404, 404, 400, 400, 405]
    for error in errors:
        body = error.json()
        assert body["status"] == error.status_code
        assert body["code"]
        assert body["message"]
        assert body["contextId"] == error.headers["ININ-Correlation-Id"]


async def test_unknown_and_expired_bearers_get_401(
    api: httpx.AsyncClient, sandbox: RunningSandbox
) -> None:
    unknown = await api.get("/api/v2/flows", headers={"Authorization": "Bearer nope"})
    missing = await api.get("/api/v2/flows", headers={"Authorization": ""})
    await api.post(f"{sandbox.base_url}/sandbox/tokens/expire")
    expired = await api.get("/api/v2/flows")
    renewed = await token_for(sandbox.base_url)
    fresh = await api.get("/api/v2/flows", headers={"Authorization": f"Bearer {renewed}"})

    assert [r.status_code for r in (unknown, missing, expired)] == [401, 401, 401]
    assert expired.json()["code"] == "credentials.expired"
    assert all(r.json()["status"] == 401 for r in (unknown, missing, expired))
    assert fresh.status_code == 200


@pytest.fixture
async def tight_api() -> AsyncIterator[httpx.AsyncClient]:
    async with sandbox_client(make_config(rate_limit_per_minute=2)) as client:
        yield client


async def test_requests_past_the_per_client_limit_get_429_with_retry_after(
    tight_api: httpx.AsyncClient,
) -> None:
    responses = [await tight_api.get("/api/v2/flows") for _ in range(3)]

    assert [r.status_code for r in responses] == [200, 200, 429]
    assert [r.headers["inin-ratelimit-count"] for r in responses] == ["1", "2", "2"]
    limited = responses[2]
    assert 0 < int(limited.headers["Retry-After"]) <= 60
    assert limited.json()["status"] == 429
    assert limited.json()["code"] == "too.many.requests"
