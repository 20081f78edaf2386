import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from receiver.app import create_app
from receiver.registration.register import register_from_settings
from receiver.serving.server import running_server
from tests.conftest import (
    FLOW_CALL,
    FLOW_HANGS,
    FLOW_OK,
    FLOW_SLOW,
    WRITE_KEY,
    genesys_overrides,
    settings_for,
)

FAST_SWEEP = {
    "FLOWTRACK_SWEEP_INTERVAL": "0.1",
    "FLOWTRACK_SWEEP_CONFIRM_SECONDS": "0.1",
}


class Tracked:
    """flowtrack (sweeping fast) + the sandbox, with flowtrack registered as the callback."""

    def __init__(self, api: httpx.AsyncClient, control: httpx.AsyncClient) -> None:
        self.api = api
        self.control = control

    async def launch(self, flow_id: str, **body: Any) -> dict[str, Any]:
        response = await self.api.post("/api/v1/launches", json={"flowId": flow_id, **body})
        assert response.status_code == 201, response.text
        launched: dict[str, Any] = response.json()
        return launched

    async def launch_state(self, launch_id: str) -> dict[str, Any]:
        state: dict[str, Any] = (await self.api.get(f"/api/v1/launches/{launch_id}")).json()
        return state

    async def until(self, launch_id: str, *states: str, seconds: float = 15) -> dict[str, Any]:
        for _ in range(int(seconds / 0.05)):
            launch = await self.launch_state(launch_id)
            if launch["state"] in states:
                return launch
            await asyncio.sleep(0.05)
        raise AssertionError(f"launch stayed {launch['state']}: {launch}")

    async def history(self, launch_id: str) -> list[dict[str, Any]]:
        listed = await self.api.get("/api/v1/events", params={"launchId": launch_id})
        items: list[dict[str, Any]] = listed.json()["items"]
        return items

    async def disconnects(self) -> dict[str, int]:
        stats = (await self.control.get("/sandbox/stats")).json()
        calls: dict[str, int] = stats["conversations"].get("conversations.disconnect_calls", {})
        return calls

    async def faults(self, **api_faults: Any) -> None:
        response = await self.control.put("/sandbox/faults", json={"api": api_faults})
        assert response.status_code == 200, response.text


TrackedFactory = Callable[..., Awaitable[Tracked]]


@pytest.fixture
async def tracked(database_url: str, sandbox: Any) -> AsyncIterator[TrackedFactory]:
    stack: list[Any] = []

    async def start(register: bool = True, **overrides: str) -> Tracked:
        environ = {**genesys_overrides(sandbox.base_url), **FAST_SWEEP, **overrides}
        server_cm = running_server(create_app(settings_for(database_url, **environ)))
        server = await server_cm.__aenter__()
        stack.append(server_cm)
        if register:
            await register_from_settings(
                settings_for(database_url, FLOWTRACK_PUBLIC_URL=server.base_url, **environ)
            )
        api = httpx.AsyncClient(
            base_url=server.base_url, headers={"Authorization": f"Bearer {WRITE_KEY}"}, timeout=20
        )
        control = httpx.AsyncClient(base_url=sandbox.base_url, timeout=20)
        stack.extend([api, control])
        return Tracked(api, control)

    yield start
    for item in reversed(stack):
        await item.__aexit__(None, None, None)


async def test_a_hanging_conversation_is_disconnected_after_its_deadline(
    tracked: TrackedFactory,
) -> None:
    flowtrack = await tracked()
    launch = await flowtrack.launch(FLOW_CALL, timeoutSeconds=1)
    ended = await flowtrack.until(launch["id"], "timed_out")
    conversation = ended["conversationId"]
    assert conversation
    assert (await flowtrack.disconnects()) == {conversation: 1}
    own = [
        (e["kind"], e["errorCode"], e["outcome"])
        for e in await flowtrack.history(launch["id"])
        if e["source"] == "flowtrack" and e["kind"] != "start"
    ]
    assert own == [
        ("error", "timeout", None),
        ("error", "disconnect_requested", None),
        ("complete", None, "timed_out"),
    ]


async def test_completed_flows_are_never_terminated(tracked: TrackedFactory) -> None:
    flowtrack = await tracked()
    launch = await flowtrack.launch(FLOW_OK, timeoutSeconds=2)
    await flowtrack.until(launch["id"], "completed")
    await asyncio.sleep(2.5)  # well past the deadline, several sweeps later
    assert (await flowtrack.launch_state(launch["id"]))["state"] == "completed"
    assert await flowtrack.disconnects() == {}


async def test_a_flow_whose_callbacks_were_lost_is_closed_from_the_status_poll(
    tracked: TrackedFactory,
) -> None:
    flowtrack = await tracked(register=False)  # no data action: no callbacks at all
    launch = await flowtrack.launch(FLOW_OK, timeoutSeconds=1)
    ended = await flowtrack.until(launch["id"], "completed")
    history = await flowtrack.history(launch["id"])
    assert [(e["kind"], e["source"]) for e in history][-1] == ("complete", "status_poll")
    assert ended["endedAt"] is not None
    assert await flowtrack.disconnects() == {}


async def test_a_platform_error_status_fails_the_launch_from_the_status_poll(
    tracked: TrackedFactory,
) -> None:
    flowtrack = await tracked(register=False)
    launch = await flowtrack.launch("aaaaaaaa-0000-4000-8000-000000000002", timeoutSeconds=1)
    ended = await flowtrack.until(launch["id"], "failed")
    assert ended["errorCode"] is None or ended["errorCode"]
    kinds = [(e["kind"], e["source"]) for e in await flowtrack.history(launch["id"])]
    assert ("error", "status_poll") in kinds


async def test_the_stop_command_reaches_a_pure_workflow(tracked: TrackedFactory) -> None:
    flowtrack = await tracked()
    launch = await flowtrack.launch(FLOW_SLOW, timeoutSeconds=1)
    ended = await flowtrack.until(launch["id"], "timed_out")
    assert ended["conversationId"] is None
    seen = None
    for _ in range(100):
        seen = (
            await flowtrack.control.get(f"/sandbox/executions/{launch['flowExecutionId']}")
        ).json()
        if seen["execution"]["status"] != "RUNNING":
            break
        await asyncio.sleep(0.05)
    assert seen is not None
    assert seen["execution"]["status"] == "TERMINATED"
    # It stopped at its next callback, long before its twentieth step.
    entered = [
        e["nodeId"] for e in await flowtrack.history(launch["id"]) if e["kind"] == "node_enter"
    ]
    assert "step-19" not in entered
    assert await flowtrack.disconnects() == {}


async def test_an_idle_limit_times_out_a_flow_that_stops_reporting(
    tracked: TrackedFactory,
) -> None:
    flowtrack = await tracked()
    launch = await flowtrack.launch(FLOW_HANGS, timeoutSeconds=3600, idleTimeoutSeconds=1)
    ended = await flowtrack.until(launch["id"], "timed_out")
    timeout = [e for e in await flowtrack.history(launch["id"]) if e["errorCode"] == "timeout"]
    assert "idle" in timeout[0]["errorMessage"]
    assert ended["currentNode"]["id"] == "wait"


async def test_rate_limits_and_server_errors_only_delay_termination(
    tracked: TrackedFactory,
) -> None:
    flowtrack = await tracked(FLOWTRACK_TERMINATION_MAX_ATTEMPTS="50")
    launch = await flowtrack.launch(FLOW_CALL, timeoutSeconds=1)
    await flowtrack.faults(
        rateLimitBurst=3, serverError=0.3, retryAfterSeconds=1, paths=["/api/v2/conversations"]
    )
    ended = await flowtrack.until(launch["id"], "timed_out", seconds=30)
    assert (await flowtrack.disconnects())[ended["conversationId"]] >= 1


async def test_termination_that_keeps_failing_ends_as_termination_failed(
    tracked: TrackedFactory,
) -> None:
    flowtrack = await tracked(FLOWTRACK_TERMINATION_MAX_ATTEMPTS="2")
    launch = await flowtrack.launch(FLOW_CALL, timeoutSeconds=1)
    await flowtrack.faults(
        serverError=1.0, serverErrorStatuses=[500], paths=["/api/v2/conversations"]
    )
    ended = await flowtrack.until(launch["id"], "termination_failed", seconds=40)
    assert "500" in ended["stateReason"]
    codes = [e["errorCode"] for e in await flowtrack.history(launch["id"])]
    assert codes.count("termination_failed") == 1


async def test_terminate_ends_a_launch_on_demand_and_is_idempotent(
    tracked: TrackedFactory,
) -> None:
    flowtrack = await tracked(FLOWTRACK_SWEEP_ENABLED="0")
    launch = await flowtrack.launch(FLOW_HANGS)
    first = await flowtrack.api.post(f"/api/v1/launches/{launch['id']}/terminate")
    again = await flowtrack.api.post(f"/api/v1/launches/{launch['id']}/terminate")
    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json()["state"] == again.json()["state"] == "terminated"
    outcomes = [
        e["outcome"] for e in await flowtrack.history(launch["id"]) if e["kind"] == "complete"
    ]
    assert outcomes == ["terminated"]


async def test_terminating_needs_a_write_key_and_a_known_launch(tracked: TrackedFactory) -> None:
    flowtrack = await tracked(register=False)
    missing = await flowtrack.api.post("/api/v1/launches/nope/terminate")
    assert missing.status_code == 404
    from tests.conftest import READ_KEY

    read_only = await flowtrack.api.post(
        "/api/v1/launches/nope/terminate", headers={"Authorization": f"Bearer {READ_KEY}"}
    )
    assert read_only.status_code == 403
