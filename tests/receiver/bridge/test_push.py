"""Push alone: a flow with no data action steps, followed over the sandbox's WebSocket."""

from __future__ import annotations

import itertools
from typing import Any

import httpx

from tests.conftest import FLOW_FAILS, FLOW_OK, READ_KEY
from tests.receiver.bridge.conftest import eventually, flowtrack, listening, tracking

READ = {"Authorization": f"Bearer {READ_KEY}"}


async def transitions(api: httpx.AsyncClient, launch_id: str) -> dict[str, Any]:
    response = await api.get(f"/api/v1/launches/{launch_id}/transitions", headers=READ)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def visits(page: dict[str, Any]) -> list[tuple[str, str]]:
    return [(s["nodeId"], s["outcome"]) for s in page["items"] if s["type"] == "node"]


def ended(page: dict[str, Any]) -> bool:
    return any(
        step["type"] == "complete" and step["source"] != "flowtrack" for step in page["items"]
    )


async def settles_as(api: httpx.AsyncClient, launch_id: str, state: str) -> None:
    """The launch reaches ``state`` (the tracker follows commits in the background)."""

    async def fetch() -> str:
        found: str = (await api.get(f"/api/v1/launches/{launch_id}", headers=READ)).json()["state"]
        return found

    await eventually(fetch, lambda found: found == state)


async def launch(api: httpx.AsyncClient, flow_id: str) -> str:
    response = await api.post("/api/v1/launches", json={"flowId": flow_id})
    assert response.status_code == 201, response.text
    launch_id: str = response.json()["id"]
    return launch_id


async def test_a_flow_without_data_actions_gets_its_whole_history_from_push_alone(
    database_url: str, sandbox: Any
) -> None:
    flows = f"{FLOW_OK},{FLOW_FAILS}"
    async with flowtrack(database_url, sandbox, FLOWTRACK_NOTIFICATION_FLOWS=flows) as (_, api):
        await eventually(lambda: tracking(api), lambda state: listening(state, topics=2))
        ok, fails = await launch(api, FLOW_OK), await launch(api, FLOW_FAILS)

        page = await eventually(lambda: transitions(api, ok), ended)
        assert page["nodeSource"] == "platform"
        assert visits(page) == [("prepare", "exited"), ("lookup", "exited"), ("notify", "exited")]
        nodes = [s for s in page["items"] if s["type"] == "node"]
        assert all(s["source"] == "notification" and s["durationMs"] >= 0 for s in nodes)
        await settles_as(api, ok, "completed")

        page = await eventually(lambda: transitions(api, fails), ended)
        assert visits(page) == [("fetch", "exited"), ("push", "errored")]
        [errored] = [s for s in page["items"] if s["outcome"] == "errored"]
        assert errored["errorCode"] == "DATA_ACTION_FAILED"
        await settles_as(api, fails, "failed")

        # The holder publishes its counts at its next refresh.
        state = await eventually(
            lambda: tracking(api), lambda s: s["notifications"]["counts"]["storedEvents"] > 0
        )
        assert state["notifications"]["holder"]
        assert state["gaps"] == []


async def test_a_flow_launched_for_the_first_time_is_subscribed_to_at_once(
    database_url: str, sandbox: Any
) -> None:
    async with flowtrack(database_url, sandbox) as (_, api):
        first = await launch(api, FLOW_OK)
        await eventually(lambda: tracking(api), listening)
        second = await launch(api, FLOW_OK)
        page = await eventually(lambda: transitions(api, second), ended)
        assert visits(page) == [("prepare", "exited"), ("lookup", "exited"), ("notify", "exited")]
        assert (await transitions(api, first))["items"]  # its start, at least


async def test_a_truncated_message_is_completed_from_its_download_link(
    database_url: str,
) -> None:
    from sandbox.config import SandboxConfig
    from sandbox.server import running_sandbox
    from tests.conftest import FLOW_SLOW, TEST_FLOWS

    config = SandboxConfig(flows=TEST_FLOWS, seed=7, time_scale=0.2, notification_max_items=5)
    async with (
        running_sandbox(config) as sandbox,
        flowtrack(database_url, sandbox, FLOWTRACK_NOTIFICATION_FLOWS=FLOW_SLOW) as (_, api),
    ):
        await eventually(lambda: tracking(api), listening)
        launch_id = await launch(api, FLOW_SLOW)
        page = await eventually(lambda: transitions(api, launch_id), ended)
        steps = [(f"step-{n}", "exited") for n in range(20)]
        page = await eventually(lambda: transitions(api, launch_id), lambda p: visits(p) == steps)
        nodes = [s for s in page["items"] if s["type"] == "node"]
        assert {s["source"] for s in nodes} == {"notification", "history"}
        # Each visit ends where the next begins, across the cut too.
        for visit, following in itertools.pairwise(nodes):
            assert visit["exitedAt"] == following["enteredAt"]


async def test_the_bridge_is_seen_in_the_metrics(database_url: str, sandbox: Any) -> None:
    async with flowtrack(database_url, sandbox, FLOWTRACK_NOTIFICATION_FLOWS=FLOW_OK) as (_, api):
        await eventually(lambda: tracking(api), listening)
        launch_id = await launch(api, FLOW_OK)
        await eventually(lambda: transitions(api, launch_id), ended)
        text = (await api.get("/metrics", headers=READ)).text
        assert "flowtrack_bridge_holding 1.0" in text
        assert "flowtrack_bridge_channels_connected 1.0" in text
        assert 'flowtrack_bridge_topics{state="Permitted"} 1.0' in text
        assert "flowtrack_bridge_messages_total 1.0" in text
