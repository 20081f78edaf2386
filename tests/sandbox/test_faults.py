"""Faults switch on and off at run time and play out deterministically for a seed."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import httpx

from sandbox.server import RunningSandbox, running_sandbox
from tests.sandbox.conftest import (
    LINEAR,
    CallbackReceiver,
    finished,
    launch,
    make_config,
    register_callback_action,
    token_for,
)


async def set_faults(client: httpx.AsyncClient, sandbox: RunningSandbox, **families: Any) -> None:
    response = await client.put(f"{sandbox.base_url}/sandbox/faults", json=families)
    assert response.status_code == 200, response.text


async def test_duplicate_fault_delivers_each_callback_twice_until_switched_off(
    api: httpx.AsyncClient, sandbox: RunningSandbox, receiver: CallbackReceiver
) -> None:
    await register_callback_action(api, receiver.url)
    await set_faults(api, sandbox, deliveries={"duplicate": 1.0})
    first = await launch(api, LINEAR)
    await finished(api, first["id"])

    await api.delete(f"{sandbox.base_url}/sandbox/faults")
    second = await launch(api, LINEAR)
    await finished(api, second["id"])

    duplicated = Counter(e["eventId"] for e in receiver.events(first["id"]))
    assert set(duplicated.values()) == {2}
    assert len(duplicated) == 8
    single = Counter(e["eventId"] for e in receiver.events(second["id"]))
    assert set(single.values()) == {1}


async def test_reorder_fault_delivers_callbacks_out_of_order(
    api: httpx.AsyncClient, sandbox: RunningSandbox, receiver: CallbackReceiver
) -> None:
    await register_callback_action(api, receiver.url)
    await set_faults(api, sandbox, deliveries={"reorder": 1.0})
    launched = await launch(api, LINEAR)

    assert (await finished(api, launched["id"]))["status"] == "COMPLETED"

    # Each held delivery goes out right after the next one of the same run.
    assert [(e["event"], e["nodeId"]) for e in receiver.events(launched["id"])] == [
        ("node_enter", "a"),
        ("start", None),
        ("node_enter", "b"),
        ("node_exit", "a"),
        ("node_enter", "c"),
        ("node_exit", "b"),
        ("complete", None),
        ("node_exit", "c"),
    ]


async def test_failed_deliveries_are_retried_until_they_get_through(
    api: httpx.AsyncClient, sandbox: RunningSandbox, receiver: CallbackReceiver
) -> None:
    await register_callback_action(api, receiver.url)
    await set_faults(api, sandbox, deliveries={"fail": 0.5, "maxRetries": 20, "retryBackoffMs": 1})
    launched = await launch(api, LINEAR)

    assert (await finished(api, launched["id"]))["status"] == "COMPLETED"

    stats = (await api.get(f"{sandbox.base_url}/sandbox/stats")).json()["counters"]
    assert stats["callbacks.faults.failed_attempts"] > 0
    assert stats["callbacks.retries"] == stats["callbacks.faults.failed_attempts"]
    assert len(receiver.events(launched["id"])) == 8


async def test_deliveries_failing_every_retry_take_the_failure_path(
    api: httpx.AsyncClient, sandbox: RunningSandbox, receiver: CallbackReceiver
) -> None:
    await register_callback_action(api, receiver.url)
    await set_faults(api, sandbox, deliveries={"fail": 1.0, "maxRetries": 2, "retryBackoffMs": 1})
    launched = await launch(api, LINEAR)

    status = await finished(api, launched["id"])

    assert status["status"] == "FAILED"
    assert receiver.requests == []


async def test_delay_fault_holds_each_delivery_back(
    api: httpx.AsyncClient, sandbox: RunningSandbox, receiver: CallbackReceiver
) -> None:
    await register_callback_action(api, receiver.url)
    await set_faults(api, sandbox, deliveries={"delay": 1.0, "delayMs": [40, 40]})
    started = time.monotonic()
    launched = await launch(api, LINEAR)

    await finished(api, launched["id"])

    assert time.monotonic() - started >= 8 * 0.04
    assert sandbox.state.stats.get("callbacks.faults.delayed") == 8


async def test_rate_limit_burst_answers_429_then_recovers(
    api: httpx.AsyncClient, sandbox: RunningSandbox
) -> None:
    await set_faults(api, sandbox, api={"rateLimitBurst": 2, "retryAfterSeconds": 3})

    statuses = [(await api.get("/api/v2/flows")) for _ in range(3)]

    assert [r.status_code for r in statuses] == [429, 429, 200]
    assert statuses[0].headers["Retry-After"] == "3"
    assert statuses[0].json()["status"] == 429
    assert statuses[0].json()["message"].endswith("Retry the request in [3] seconds")


async def test_server_error_fault_answers_5xx_some_with_non_json_bodies(
    api: httpx.AsyncClient, sandbox: RunningSandbox
) -> None:
    await set_faults(
        api, sandbox, api={"serverError": 1.0, "nonJson": 1.0, "serverErrorStatuses": [502]}
    )
    cdn_page = await api.get("/api/v2/flows")
    await set_faults(api, sandbox, api={"nonJson": 0.0, "serverErrorStatuses": [503]})
    error_body = await api.get("/api/v2/flows")
    await api.delete(f"{sandbox.base_url}/sandbox/faults")
    healthy = await api.get("/api/v2/flows")

    assert cdn_page.status_code == 502
    assert cdn_page.headers["content-type"].startswith("text/html")
    assert cdn_page.headers["inin-correlation-id"]
    assert error_body.status_code == 503
    assert error_body.json()["status"] == 503
    assert healthy.status_code == 200


async def test_slow_fault_delays_api_responses(
    api: httpx.AsyncClient, sandbox: RunningSandbox
) -> None:
    await set_faults(api, sandbox, api={"slow": 1.0, "slowMs": 200})
    started = time.monotonic()

    response = await api.get("/api/v2/flows")

    assert response.status_code == 200
    assert time.monotonic() - started >= 0.2


async def test_api_faults_spare_the_login_path_and_control_endpoints(
    api: httpx.AsyncClient, sandbox: RunningSandbox
) -> None:
    await set_faults(api, sandbox, api={"serverError": 1.0})

    assert (await api.get(f"{sandbox.base_url}/sandbox/stats")).status_code == 200
    assert await token_for(sandbox.base_url)


async def test_invalid_fault_settings_are_rejected(
    api: httpx.AsyncClient, sandbox: RunningSandbox
) -> None:
    unknown = await api.put(f"{sandbox.base_url}/sandbox/faults", json={"api": {"nope": 1}})
    out_of_range = await api.put(
        f"{sandbox.base_url}/sandbox/faults", json={"deliveries": {"duplicate": 2}}
    )

    assert unknown.status_code == 400
    assert out_of_range.status_code == 400
    assert out_of_range.json()["status"] == 400


async def statuses_under_half_server_errors(seed: int) -> list[int]:
    async with running_sandbox(make_config(seed=seed)) as sandbox:
        token = await token_for(sandbox.base_url)
        async with httpx.AsyncClient(
            base_url=sandbox.base_url, headers={"Authorization": f"Bearer {token}"}
        ) as client:
            await client.put("/sandbox/faults", json={"api": {"serverError": 0.5}})
            return [(await client.get("/api/v2/flows")).status_code for _ in range(16)]


async def test_faults_play_out_identically_for_the_same_seed() -> None:
    first = await statuses_under_half_server_errors(seed=11)
    again = await statuses_under_half_server_errors(seed=11)
    other = await statuses_under_half_server_errors(seed=12)

    assert first == again
    assert 200 in first
    assert set(first) - {200}
    assert first != other


async def test_a_fraction_where_a_count_is_expected_is_refused(
    api: httpx.AsyncClient, sandbox: RunningSandbox
) -> None:
    response = await api.put(
        f"{sandbox.base_url}/sandbox/faults", json={"api": {"rateLimitBurst": 0.3}}
    )
    assert response.status_code == 400
    assert "whole number" in response.json()["message"]
