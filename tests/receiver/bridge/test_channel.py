"""The socket's health over the real sandbox: drops, rollovers, expiry, silence.

Each case launches a slow flow (20 steps of 300 ms, no data action steps) and disturbs
the socket while it runs; the execution message comes at the run's end, so the history
is complete when the bridge listens again in time, and nothing is stored twice.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
import pytest

from tests.conftest import FLOW_SLOW, READ_KEY
from tests.receiver.bridge.conftest import eventually, flowtrack, listening, tracking
from tests.receiver.bridge.test_push import ended, launch, transitions, visits

READ = {"Authorization": f"Bearer {READ_KEY}"}
STEPS = [(f"step-{n}", "exited") for n in range(20)]


async def kinds(api: httpx.AsyncClient, launch_id: str) -> Counter[str]:
    launched = (await api.get(f"/api/v1/launches/{launch_id}", headers=READ)).json()
    response = await api.get(
        "/api/v1/events",
        params={"flowExecutionId": launched["flowExecutionId"], "limit": "1000"},
        headers=READ,
    )
    return Counter(
        item["kind"] for item in response.json()["items"] if item["source"] != "flowtrack"
    )


async def disturbed_run(
    database_url: str, sandbox: Any, control: str, body: dict[str, Any] | None = None
) -> tuple[dict[str, Any], Counter[str], dict[str, Any]]:
    """Launch the slow flow, send ``control`` to its channel mid-run; the final history."""
    async with (
        flowtrack(database_url, sandbox, FLOWTRACK_NOTIFICATION_FLOWS=FLOW_SLOW) as (_, api),
        httpx.AsyncClient(base_url=sandbox.base_url) as sandbox_api,
    ):
        await eventually(lambda: tracking(api), listening)
        launch_id = await launch(api, FLOW_SLOW)
        await eventually(lambda: transitions(api, launch_id), lambda page: page["items"])
        answer = await sandbox_api.post(f"/sandbox/channels/all/{control}", json=body or {})
        assert answer.status_code == 200, answer.text
        page = await eventually(lambda: transitions(api, launch_id), ended, within=30)
        return page, await kinds(api, launch_id), await tracking(api)


@pytest.mark.parametrize("control", ["drop", "expire"])
async def test_a_socket_lost_mid_run_is_a_gap_and_the_history_is_still_complete(
    database_url: str, sandbox: Any, control: str
) -> None:
    page, counts, state = await disturbed_run(database_url, sandbox, control)
    assert visits(page) == STEPS
    assert (counts["node_enter"], counts["node_exit"], counts["complete"]) == (20, 20, 1)
    [gap] = state["gaps"]
    assert (gap["reason"], gap["backfill"]) == ("socket_lost", "no_pull")
    assert gap["endedAt"] is not None


async def test_an_expired_channel_is_replaced_by_a_new_one(database_url: str, sandbox: Any) -> None:
    async with (
        flowtrack(database_url, sandbox, FLOWTRACK_NOTIFICATION_FLOWS=FLOW_SLOW) as (_, api),
        httpx.AsyncClient(base_url=sandbox.base_url) as sandbox_api,
    ):
        before = await eventually(lambda: tracking(api), listening)
        old = before["notifications"]["channels"][0]["id"]
        await sandbox_api.post("/sandbox/channels/all/expire", json={})

        def replaced(state: dict[str, Any]) -> bool:
            channels = state["notifications"]["channels"]
            return listening(state) and channels[0]["id"] != old

        await eventually(lambda: tracking(api), replaced)


async def test_socket_closing_rolls_over_without_a_gap_or_a_duplicate(
    database_url: str, sandbox: Any
) -> None:
    page, counts, state = await disturbed_run(database_url, sandbox, "socket-closing")
    assert visits(page) == STEPS
    assert (counts["node_enter"], counts["node_exit"], counts["complete"]) == (20, 20, 1)
    assert state["gaps"] == []


async def test_a_silent_socket_is_pinged_then_replaced(database_url: str, sandbox: Any) -> None:
    page, counts, state = await disturbed_run(database_url, sandbox, "silence", {"silent": True})
    assert visits(page) == STEPS
    assert (counts["node_enter"], counts["node_exit"], counts["complete"]) == (20, 20, 1)
    [gap] = state["gaps"]
    assert gap["reason"] == "socket_lost"


async def test_a_channel_is_renewed_before_it_expires_and_keeps_listening(
    database_url: str,
) -> None:
    import asyncio

    from sandbox.config import SandboxConfig
    from sandbox.server import running_sandbox
    from tests.conftest import FLOW_OK, TEST_FLOWS

    config = SandboxConfig(
        flows=TEST_FLOWS, seed=7, heartbeat_seconds=0.2, channel_lifetime_seconds=3
    )
    async with (
        running_sandbox(config) as sandbox,
        flowtrack(database_url, sandbox, FLOWTRACK_NOTIFICATION_FLOWS=FLOW_OK) as (_, api),
    ):
        first = await eventually(lambda: tracking(api), listening)
        [channel] = first["notifications"]["channels"]
        # Past the first lifetime: renewed in place (same channel, later expiry).
        await asyncio.sleep(4)
        later = await tracking(api)
        [renewed] = later["notifications"]["channels"]
        assert renewed["id"] == channel["id"]
        assert renewed["expires"] > channel["expires"]
        assert renewed["connectedSince"] == channel["connectedSince"]
        launch_id = await launch(api, FLOW_OK)
        page = await eventually(lambda: transitions(api, launch_id), ended)
        assert [node for node, _ in visits(page)] == ["prepare", "lookup", "notify"]
        assert (await tracking(api))["gaps"] == []
