"""The org's data action limits and the API faults apply to execute and test."""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx

from sandbox.action_samples import LOOKUP_ACCOUNT, SLOW_REPORT
from tests.sandbox.conftest import make_config, poll_until, sandbox_client

EXECUTIONS = "/sandbox/actions/executions"


def samples_client(**overrides: Any) -> AbstractAsyncContextManager[httpx.AsyncClient]:
    """An authenticated client on a sandbox with the sample actions and ``overrides``."""
    return sandbox_client(make_config(sample_actions=True, **overrides), timeout=10)


def execute_path(action_id: str, verb: str = "execute") -> str:
    return f"/api/v2/integrations/actions/{action_id}/{verb}"


async def test_a_call_beyond_the_concurrency_limit_is_a_429_and_is_not_executed() -> None:
    async with samples_client(action_concurrency_limit=1) as client:
        slow = asyncio.create_task(
            client.post(execute_path(SLOW_REPORT), json={"reportName": "r", "delaySeconds": 1})
        )
        await poll_until(lambda: client.get(EXECUTIONS), lambda r: r.json()["inFlight"] == 1)

        refused = await client.post(execute_path(LOOKUP_ACCOUNT), json={"accountId": "A"})
        tested = await client.post(execute_path(LOOKUP_ACCOUNT, "test"), json={"accountId": "A"})
        assert (await slow).status_code == 200
        after = await client.post(execute_path(LOOKUP_ACCOUNT), json={"accountId": "A"})
        counts = (await client.get(EXECUTIONS, params={"actionId": LOOKUP_ACCOUNT})).json()

    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "1"
    body = refused.json()
    assert body["code"] == "too.many.requests"
    assert body["limit"] == {
        "key": "actions.concurrent.executions.max",
        "namespace": "dataactions",
        "value": 1,
    }
    assert tested.status_code == 429
    assert after.status_code == 200
    lookup = counts["actions"][LOOKUP_ACCOUNT]
    assert lookup["executed"] == 1
    assert lookup["tested"] == 0
    assert lookup["outcomes"] == {"rateLimited": 1, "succeeded": 1}


async def test_calls_beyond_the_per_minute_limit_are_429_until_the_window_resets() -> None:
    async with samples_client(action_executions_per_minute=2) as client:
        answers = [
            await client.post(execute_path(LOOKUP_ACCOUNT), json={"accountId": f"A-{n}"})
            for n in range(3)
        ]
        counts = (await client.get(EXECUTIONS)).json()

    assert [a.status_code for a in answers] == [200, 200, 429]
    third = answers[2]
    assert 1 <= int(third.headers["Retry-After"]) <= 60
    assert third.json()["limit"]["key"] == "requests.volume.max"
    assert third.json()["limit"]["value"] == 2
    assert counts["total"] == 2


async def test_api_faults_answer_execute_before_anything_is_executed() -> None:
    async with samples_client() as client:
        await client.put(
            "/sandbox/faults",
            json={"api": {"rateLimitBurst": 1, "paths": ["/api/v2/integrations/actions/"]}},
        )
        burst = await client.post(execute_path(LOOKUP_ACCOUNT), json={"accountId": "A"})
        await client.put(
            "/sandbox/faults",
            json={"api": {"serverError": 1.0, "serverErrorStatuses": [503], "nonJson": 0}},
        )
        failed = await client.post(execute_path(LOOKUP_ACCOUNT), json={"accountId": "A"})
        await client.delete("/sandbox/faults")
        passed = await client.post(execute_path(LOOKUP_ACCOUNT), json={"accountId": "A"})
        counts = (await client.get(EXECUTIONS)).json()

    assert burst.status_code == 429
    assert burst.headers["Retry-After"] == "1"
    assert failed.status_code == 503
    assert failed.json()["details"] == []
    assert passed.status_code == 200
    assert counts["actions"][LOOKUP_ACCOUNT]["executed"] == 1


async def test_fifty_concurrent_executions_fit_the_default_limit() -> None:
    async with samples_client(rate_limit_per_minute=10_000) as client:
        answers = await asyncio.gather(
            *(
                client.post(
                    execute_path(SLOW_REPORT), json={"reportName": f"r{n}", "delaySeconds": 0.3}
                )
                for n in range(50)
            )
        )
        counts = (await client.get(EXECUTIONS)).json()

    assert {a.status_code for a in answers} == {200}
    assert counts["actions"][SLOW_REPORT]["executed"] == 50
