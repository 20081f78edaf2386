"""The sample actions, their stub service, and the execution counter."""

from __future__ import annotations

from typing import Any

import httpx

from sandbox.action_samples import (
    FLAKY_LOOKUP,
    LOOKUP_ACCOUNT,
    SAMPLE_CREDENTIAL_ID,
    SLOW_REPORT,
)
from sandbox.config import SandboxConfig
from tests.sandbox.conftest import (
    LINEAR,
    CallbackReceiver,
    finished,
    launch,
    make_config,
    register_callback_action,
    sandbox_client,
)

EXECUTIONS = "/sandbox/actions/executions"


def samples(**overrides: Any) -> SandboxConfig:
    return make_config(sample_actions=True, **overrides)


async def execute(client: httpx.AsyncClient, action_id: str, body: Any) -> httpx.Response:
    return await client.post(f"/api/v2/integrations/actions/{action_id}/execute", json=body)


async def action_names(client: httpx.AsyncClient) -> list[str]:
    listing = (await client.get("/api/v2/integrations/actions")).json()
    return [a["name"] for a in listing["entities"]]


async def test_the_sample_actions_come_with_the_built_in_flows_or_when_asked() -> None:
    async with sandbox_client(SandboxConfig(seed=1)) as built_in:
        default_names = await action_names(built_in)
    async with sandbox_client(make_config()) as own_flows:
        own_names = await action_names(own_flows)
    async with sandbox_client(samples()) as asked:
        asked_names = await action_names(asked)

    assert default_names == ["Flaky Lookup", "Lookup Account", "Slow Report"]
    assert own_names == []
    assert asked_names == default_names


async def test_lookup_account_coerces_nothing_and_answers_the_account() -> None:
    async with sandbox_client(samples()) as client:
        answered = await execute(
            client, LOOKUP_ACCOUNT, {"accountId": "ACC-9", "limit": 4, "includeClosed": True}
        )
        open_only = await execute(client, LOOKUP_ACCOUNT, {"accountId": "ACC-9", "limit": 4})
        as_text = await execute(client, LOOKUP_ACCOUNT, {"accountId": "ACC-9", "limit": "4"})

    output = answered.json()
    assert answered.status_code == 200
    assert output["accountId"] == "ACC-9"
    assert output["tier"] in {"standard", "silver", "gold"}
    assert isinstance(output["balance"], float)
    assert [o["orderId"] for o in output["orders"]] == [f"ACC-9-{n}" for n in range(1, 5)]
    assert [o["status"] for o in open_only.json()["orders"]] == ["open", "open"]
    assert as_text.status_code == 400
    assert [d["fieldName"] for d in as_text.json()["details"]] == ["limit"]


async def test_a_wrong_credential_makes_lookup_account_fail_authentication() -> None:
    async with sandbox_client(samples()) as client:
        await client.put(
            f"/api/v2/integrations/credentials/{SAMPLE_CREDENTIAL_ID}",
            json={
                "name": "Sandbox stub key",
                "type": {"name": "userDefined"},
                "credentialFields": {"apiKey": "wrong"},
            },
        )
        answered = await execute(client, LOOKUP_ACCOUNT, {"accountId": "ACC-1"})

    assert answered.status_code == 400
    assert answered.json()["details"] == [{"errorCode": "ACTION.AUTHENTICATION"}]


async def test_slow_report_times_out_unless_asked_to_be_quick() -> None:
    async with sandbox_client(samples()) as client:
        slow = await execute(client, SLOW_REPORT, {"reportName": "q3"})
        quick = await execute(client, SLOW_REPORT, {"reportName": "q3", "delaySeconds": 0.05})

    assert slow.status_code == 408
    assert quick.json() == {"reportId": "rpt-q3", "rows": 42}


async def flaky_statuses(seed: int, calls: int) -> list[int]:
    async with sandbox_client(samples(seed=seed)) as client:
        return [
            (await execute(client, FLAKY_LOOKUP, {"key": "k"})).status_code for _ in range(calls)
        ]


async def test_flaky_lookup_fails_the_same_share_of_calls_for_a_seed() -> None:
    first = await flaky_statuses(seed=11, calls=12)
    again = await flaky_statuses(seed=11, calls=12)

    assert first == again
    assert set(first) == {200, 500}


async def test_flaky_lookup_obeys_its_input_switches() -> None:
    async with sandbox_client(samples()) as client:
        forced = await execute(client, FLAKY_LOOKUP, {"key": "k", "fail": True})
        never = [
            (await execute(client, FLAKY_LOOKUP, {"key": "k", "failureRate": 0})).status_code
            for _ in range(5)
        ]

    assert forced.status_code == 500
    assert forced.json()["details"] == [{"errorCode": "ACTION.REMOTE_ENDPOINT"}]
    assert never == [200] * 5


async def test_the_counter_counts_what_reached_the_remote_endpoint_per_action() -> None:
    async with sandbox_client(samples()) as client:
        for n in range(3):
            await execute(client, LOOKUP_ACCOUNT, {"accountId": f"A-{n}"})
        await execute(client, LOOKUP_ACCOUNT, {"accountId": "not valid!"})
        await execute(client, FLAKY_LOOKUP, {"key": "k", "fail": True})
        await client.post(
            f"/api/v2/integrations/actions/{SLOW_REPORT}/test",
            json={"reportName": "r", "delaySeconds": 0},
        )
        counts = (await client.get(EXECUTIONS)).json()
        one = (await client.get(EXECUTIONS, params={"actionId": FLAKY_LOOKUP})).json()
        stats = (await client.get("/sandbox/stats")).json()["counters"]

    lookup = counts["actions"][LOOKUP_ACCOUNT]
    assert lookup["name"] == "Lookup Account"
    assert lookup["executed"] == 3
    assert lookup["outcomes"] == {"invalidInput": 1, "succeeded": 3}
    assert counts["actions"][SLOW_REPORT]["tested"] == 1
    assert counts["actions"][SLOW_REPORT]["executed"] == 0
    assert counts["total"] == 4
    assert counts["stub"]["received"] == {"accounts": 3, "flaky": 1, "reports": 1}
    assert list(one["actions"]) == [FLAKY_LOOKUP]
    assert one["actions"][FLAKY_LOOKUP]["outcomes"] == {"remoteEndpoint": 1}
    assert stats["actions.executed"] == 4


async def test_reset_zeroes_the_counter_and_puts_the_sample_actions_back() -> None:
    async with sandbox_client(samples()) as client:
        await execute(client, LOOKUP_ACCOUNT, {"accountId": "A"})
        await client.delete(f"/api/v2/integrations/actions/{SLOW_REPORT}")
        await client.post("/sandbox/reset")
        after_reset = (await client.get(EXECUTIONS)).json()
        names = await action_names(client)
        await execute(client, LOOKUP_ACCOUNT, {"accountId": "A"})
        await client.delete(EXECUTIONS)
        after_delete = (await client.get(EXECUTIONS)).json()

    assert after_reset["total"] == 0
    assert names == ["Flaky Lookup", "Lookup Account", "Slow Report"]
    assert after_delete == {"total": 0, "actions": {}, "inFlight": 0, "stub": {"received": {}}}


async def test_flows_never_call_the_sample_actions(receiver: CallbackReceiver) -> None:
    async with sandbox_client(samples()) as client:
        await register_callback_action(client, receiver.url)
        launched = await launch(client, LINEAR)
        status = await finished(client, launched["id"])
        counts = (await client.get(EXECUTIONS)).json()

    assert status["status"] == "COMPLETED"
    assert receiver.events(launched["id"])
    assert counts["stub"]["received"] == {}
