"""Data actions and their runs over real HTTP, executed by the real sandbox (#13)."""

import asyncio
import time
from typing import Any

import httpx

from tests.conftest import (
    FLAKY_LOOKUP,
    LOOKUP_ACCOUNT,
    READ_KEY,
    SLOW_REPORT,
    sandbox_executions,
)

WAIT = {"Prefer": "wait=20"}


async def run(
    api: httpx.AsyncClient, action_id: str, body: dict[str, Any], **headers: str
) -> httpx.Response:
    return await api.post(f"/api/v1/actions/{action_id}/runs", json=body, headers=headers)


async def finished(api: httpx.AsyncClient, location: str, seconds: float = 20) -> dict[str, Any]:
    """Poll a run until it reaches a final state."""
    deadline = time.monotonic() + seconds
    while True:
        body: dict[str, Any] = (await api.get(location)).json()
        if body["state"] not in ("queued", "running"):
            return body
        assert time.monotonic() < deadline, f"run still {body['state']}"
        await asyncio.sleep(0.05)


async def test_the_org_s_actions_are_listed_with_their_timeouts_and_filtered(
    action_api: httpx.AsyncClient,
) -> None:
    listed = (await action_api.get("/api/v1/actions")).json()["items"]
    by_name = {action["name"]: action for action in listed}
    assert by_name["Lookup Account"]["id"] == LOOKUP_ACCOUNT
    assert by_name["Slow Report"]["timeoutSeconds"] == 2
    only = (await action_api.get("/api/v1/actions", params={"name": "Flaky"})).json()["items"]
    assert [action["id"] for action in only] == [FLAKY_LOOKUP]


async def test_one_action_comes_with_its_input_and_success_schemas(
    action_api: httpx.AsyncClient,
) -> None:
    action = (await action_api.get(f"/api/v1/actions/{LOOKUP_ACCOUNT}")).json()
    assert action["inputSchema"]["required"] == ["accountId"]
    assert "balance" in action["successSchema"]["properties"]
    missing = await action_api.get("/api/v1/actions/custom_-_nothing-here")
    assert (missing.status_code, missing.json()["error"]) == (404, "action_not_found")


async def test_an_input_that_breaks_the_contract_is_refused_with_every_field_and_not_sent(
    action_api: httpx.AsyncClient, action_sandbox: Any
) -> None:
    response = await run(
        action_api, LOOKUP_ACCOUNT, {"input": {"accountId": "no spaces!", "limit": 99, "x": 1}}
    )
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_action_input"
    assert {problem["field"] for problem in body["detail"]} == {"accountId", "limit", "x"}
    missing = await run(action_api, LOOKUP_ACCOUNT, {"input": {}})
    assert missing.json()["detail"] == [{"field": "accountId", "problem": "is required"}]
    assert (await sandbox_executions(action_sandbox, LOOKUP_ACCOUNT))["executed"] == 0
    listed = (await action_api.get("/api/v1/action-runs")).json()["items"]
    assert listed == []


async def test_a_run_is_coerced_when_asked_executed_and_its_output_kept(
    action_api: httpx.AsyncClient, action_sandbox: Any
) -> None:
    strict = await run(action_api, LOOKUP_ACCOUNT, {"input": {"accountId": "A-7", "limit": "2"}})
    assert strict.status_code == 422
    response = await run(
        action_api,
        LOOKUP_ACCOUNT,
        {"input": {"accountId": "A-7", "limit": "2", "includeClosed": "true"}, "coerce": True},
        **WAIT,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/api/v1/action-runs/{body['id']}"
    assert body["state"] == "succeeded"
    assert body["input"] == {"accountId": "A-7", "limit": 2, "includeClosed": True}
    assert body["coercions"] == [
        {"field": "includeClosed", "from": "string", "to": "boolean", "value": "true"},
        {"field": "limit", "from": "string", "to": "integer", "value": "2"},
    ] or body["coercions"] == [
        {"field": "limit", "from": "string", "to": "integer", "value": "2"},
        {"field": "includeClosed", "from": "string", "to": "boolean", "value": "true"},
    ]
    assert body["output"]["accountId"] == "A-7"
    assert body["output"]["name"] == "Account A-7"
    assert body["outputProblems"] is None
    assert body["actionVersion"] == 1
    assert body["requestedBy"]
    [attempt] = body["attempts"]
    assert (attempt["status"], attempt["outcome"]) == (200, "succeeded")
    assert body["correlationId"] == attempt["correlationId"] is not None
    assert (await sandbox_executions(action_sandbox, LOOKUP_ACCOUNT))["executed"] == 1
    again = (await action_api.get(response.headers["location"])).json()
    assert again == body


async def test_a_remote_failure_is_classified_and_not_retried(
    action_api: httpx.AsyncClient, action_sandbox: Any
) -> None:
    body = (
        await run(action_api, FLAKY_LOOKUP, {"input": {"key": "k1", "fail": True}}, **WAIT)
    ).json()
    assert (body["state"], body["failureReason"]) == ("failed", "remote_endpoint")
    assert body["error"]["status"] == 500
    assert body["error"]["errorCodes"] == ["ACTION.REMOTE_ENDPOINT"]
    assert len(body["attempts"]) == 1
    assert (await sandbox_executions(action_sandbox, FLAKY_LOOKUP))["executed"] == 1


async def test_an_idempotent_run_is_retried_after_a_5xx(
    action_api: httpx.AsyncClient, action_sandbox: Any
) -> None:
    body = (
        await run(
            action_api,
            FLAKY_LOOKUP,
            {"input": {"key": "k2", "fail": True}, "idempotent": True},
            **WAIT,
        )
    ).json()
    assert (body["state"], body["failureReason"]) == ("failed", "remote_endpoint")
    # Every try the Genesys client's budget allows (5), each one reaching the endpoint.
    assert [attempt["status"] for attempt in body["attempts"]] == [500] * 5
    assert all(attempt["retryInMs"] for attempt in body["attempts"][:-1])
    assert (await sandbox_executions(action_sandbox, FLAKY_LOOKUP))["executed"] == 5


async def test_a_slow_endpoint_times_out_at_the_action_s_own_timeout_without_retry(
    action_api: httpx.AsyncClient, action_sandbox: Any
) -> None:
    started = time.monotonic()
    body = (
        await run(
            action_api, SLOW_REPORT, {"input": {"reportName": "q1"}, "idempotent": False}, **WAIT
        )
    ).json()
    assert (body["state"], body["failureReason"]) == ("timed_out", "timed_out")
    assert body["timeoutSeconds"] == 2
    assert body["error"]["errorCodes"] == ["ACTION.TIMEOUT"]
    assert len(body["attempts"]) == 1
    assert time.monotonic() - started < 10
    assert (await sandbox_executions(action_sandbox, SLOW_REPORT))["executed"] == 1


async def test_without_prefer_wait_the_run_is_accepted_and_polled(
    action_api: httpx.AsyncClient,
) -> None:
    response = await run(
        action_api, SLOW_REPORT, {"input": {"reportName": "q2", "delaySeconds": 0.5}}
    )
    assert response.status_code == 202
    assert response.json()["state"] in ("queued", "running")
    short = await run(
        action_api,
        SLOW_REPORT,
        {"input": {"reportName": "q3", "delaySeconds": 0.5}},
        Prefer="wait=0",
    )
    assert short.status_code == 202
    assert short.headers["preference-applied"] == "wait=0"
    body = await finished(action_api, response.headers["location"])
    assert body["state"] == "succeeded"
    assert body["output"] is not None


async def test_an_idempotency_key_replays_the_run_and_refuses_another_request(
    action_api: httpx.AsyncClient, action_sandbox: Any
) -> None:
    key = {"Idempotency-Key": "order-4711"}
    first = await run(action_api, LOOKUP_ACCOUNT, {"input": {"accountId": "A-1"}}, **key, **WAIT)
    assert first.status_code == 201
    replay = await run(action_api, LOOKUP_ACCOUNT, {"input": {"accountId": "A-1"}}, **key)
    assert replay.status_code == 200
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["id"] == first.json()["id"]
    other = await run(action_api, LOOKUP_ACCOUNT, {"input": {"accountId": "A-2"}}, **key)
    assert (other.status_code, other.json()["error"]) == (409, "idempotency_key_reused")
    assert (await sandbox_executions(action_sandbox, LOOKUP_ACCOUNT))["executed"] == 1


async def test_a_cached_result_is_a_run_of_its_own_until_it_expires(
    action_api: httpx.AsyncClient, action_sandbox: Any
) -> None:
    ask = {"input": {"accountId": "A-3"}, "cacheTtlSeconds": 1}
    first = (await run(action_api, LOOKUP_ACCOUNT, ask, **WAIT)).json()
    hit = await run(action_api, LOOKUP_ACCOUNT, ask, **WAIT)
    assert hit.status_code == 201
    cached = hit.json()
    assert cached["id"] != first["id"]
    assert (cached["cached"], cached["cachedFrom"]) == (True, first["id"])
    assert cached["output"] == first["output"]
    assert cached["attempts"] == []
    assert (await sandbox_executions(action_sandbox, LOOKUP_ACCOUNT))["executed"] == 1
    await asyncio.sleep(1.1)
    expired = (await run(action_api, LOOKUP_ACCOUNT, ask, **WAIT)).json()
    assert expired["cached"] is False
    assert (await sandbox_executions(action_sandbox, LOOKUP_ACCOUNT))["executed"] == 2
    stats = (await action_api.get(f"/api/v1/actions/{LOOKUP_ACCOUNT}/stats")).json()
    assert stats["cacheHits"] == 1


async def test_a_failure_is_never_cached(
    action_api: httpx.AsyncClient, action_sandbox: Any
) -> None:
    ask = {"input": {"key": "k3", "fail": True}, "cacheTtlSeconds": 60}
    for _ in range(2):
        body = (await run(action_api, FLAKY_LOOKUP, ask, **WAIT)).json()
        assert (body["state"], body["cached"]) == ("failed", False)
    assert (await sandbox_executions(action_sandbox, FLAKY_LOOKUP))["executed"] == 2


async def test_a_dry_run_uses_test_and_keeps_its_steps(
    action_api: httpx.AsyncClient, action_sandbox: Any
) -> None:
    body = (
        await run(
            action_api, LOOKUP_ACCOUNT, {"input": {"accountId": "A-4"}, "dryRun": True}, **WAIT
        )
    ).json()
    assert (body["state"], body["dryRun"]) == ("succeeded", True)
    assert body["steps"][0]["step"] == 1
    assert all(step["success"] for step in body["steps"])
    assert body["output"]["accountId"] == "A-4"
    counts = await sandbox_executions(action_sandbox, LOOKUP_ACCOUNT)
    assert (counts["executed"], counts["tested"]) == (0, 1)


async def test_runs_are_listed_by_action_and_state_and_counted_in_stats(
    action_api: httpx.AsyncClient,
) -> None:
    await run(action_api, LOOKUP_ACCOUNT, {"input": {"accountId": "A-5"}}, **WAIT)
    await run(action_api, FLAKY_LOOKUP, {"input": {"key": "k4", "fail": True}}, **WAIT)
    failed = (await action_api.get("/api/v1/action-runs", params={"state": "failed"})).json()
    assert [item["actionId"] for item in failed["items"]] == [FLAKY_LOOKUP]
    mine = await action_api.get("/api/v1/action-runs", params={"actionId": LOOKUP_ACCOUNT})
    assert [item["input"] for item in mine.json()["items"]] == [{"accountId": "A-5"}]
    stats = (await action_api.get(f"/api/v1/actions/{FLAKY_LOOKUP}/stats")).json()
    assert stats["runs"] == 1
    assert stats["byState"] == {"failed": 1}
    assert stats["byFailureReason"] == {"remote_endpoint": 1}
    assert stats["successRate"] == 0.0
    assert stats["latencyMs"]["p50"] is not None
    bad = await action_api.get("/api/v1/action-runs", params={"state": "sideways"})
    assert bad.status_code == 400


async def test_runs_need_a_write_key_and_a_well_formed_body(
    action_server: Any, action_api: httpx.AsyncClient
) -> None:
    async with httpx.AsyncClient(
        base_url=action_server.base_url, headers={"Authorization": f"Bearer {READ_KEY}"}
    ) as reader:
        refused = await reader.post(
            f"/api/v1/actions/{LOOKUP_ACCOUNT}/runs", json={"input": {"accountId": "A-1"}}
        )
        assert refused.status_code == 403
    wrong = await run(action_api, LOOKUP_ACCOUNT, {"input": "A-1", "coerce": "yes"})
    assert wrong.status_code == 422
    assert wrong.json()["error"] == "invalid_run_request"
    assert {problem["field"] for problem in wrong.json()["detail"]} == {"input", "coerce"}


async def test_a_contract_changed_at_genesys_is_read_again_after_genesys_refuses_the_input(
    action_api: httpx.AsyncClient, action_sandbox: Any
) -> None:
    ask = {"input": {"accountId": "A-6", "limit": 5}}
    assert (await run(action_api, LOOKUP_ACCOUNT, ask, **WAIT)).json()["state"] == "succeeded"
    # The action is republished with a tighter contract; flowtrack still holds the old one.
    action = action_sandbox.state.integrations.actions[LOOKUP_ACCOUNT]
    action.contract["input"]["inputSchema"]["properties"]["limit"]["maximum"] = 3
    refused_there = (await run(action_api, LOOKUP_ACCOUNT, ask, **WAIT)).json()
    assert (refused_there["state"], refused_there["failureReason"]) == ("failed", "validation")
    assert refused_there["error"]["errorCodes"] == ["ACTION.INPUT_VALIDATION"]
    refused_here = await run(action_api, LOOKUP_ACCOUNT, ask, **WAIT)
    assert refused_here.status_code == 422
    assert refused_here.json()["detail"] == [
        {"field": "limit", "problem": "5 is greater than the maximum of 3"}
    ]


async def test_finished_runs_are_counted_in_the_metrics(action_api: httpx.AsyncClient) -> None:
    await run(action_api, FLAKY_LOOKUP, {"input": {"key": "k6", "fail": True}}, **WAIT)
    await run(action_api, FLAKY_LOOKUP, {"input": {}})
    metrics = (await action_api.get("/metrics")).text
    assert f'flowtrack_action_inputs_refused_total{{action="{FLAKY_LOOKUP}"}} 1.0' in metrics
    assert (
        f'flowtrack_action_runs_total{{action="{FLAKY_LOOKUP}",cached="false",'
        'reason="remote_endpoint",state="failed"} 1.0'
    ) in metrics
