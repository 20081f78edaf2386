"""A launched flow walks its graph and reports every node through the data action."""

from __future__ import annotations

import asyncio
import re
import time

import httpx

from sandbox.server import RunningSandbox, running_sandbox
from tests.sandbox.conftest import (
    CONVERSATION,
    FAILING,
    HANGING_CALL,
    HANGING_WORKFLOW,
    LINEAR,
    NAMED_ACTION,
    RECOVERING,
    CallbackReceiver,
    finished,
    launch,
    make_config,
    poll_until,
    register_callback_action,
    token_for,
    wait_for,
)

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


async def test_launched_flow_reports_each_node_to_the_registered_action(
    api: httpx.AsyncClient, receiver: CallbackReceiver
) -> None:
    await register_callback_action(api, receiver.url)
    launched = await launch(api, LINEAR, flowtrackLaunchId="launch-1")

    status = await finished(api, launched["id"])

    assert status["status"] == "COMPLETED"
    assert status["outputData"] == {"Flow.result": "ok"}
    events = receiver.events(launched["id"])
    assert [(e["event"], e["nodeId"]) for e in events] == [
        ("start", None),
        ("node_enter", "a"),
        ("node_exit", "a"),
        ("node_enter", "b"),
        ("node_exit", "b"),
        ("node_enter", "c"),
        ("node_exit", "c"),
        ("complete", None),
    ]
    assert {e["launchId"] for e in events} == {"launch-1"}
    assert {e["flowId"] for e in events} == {LINEAR}
    assert all(ISO_MS.match(e["occurredAt"]) for e in events)
    assert len({e["eventId"] for e in events}) == len(events)
    assert [e["outputPath"] for e in events if e["event"] == "node_exit"] == [
        "__SUCCESS__",
        "found",
        "__SUCCESS__",
    ]
    assert events[1]["nodeType"] == "Task"
    assert events[1]["nodeName"] == "Start task"
    assert events[-1]["attributes"]["status"] == "COMPLETED"


async def test_callbacks_carry_the_action_headers_with_credentials_resolved(
    api: httpx.AsyncClient, receiver: CallbackReceiver
) -> None:
    await register_callback_action(api, receiver.url)
    launched = await launch(api, LINEAR)
    await finished(api, launched["id"])

    first = receiver.requests[0]
    assert first.path == "/hooks/genesys"
    assert first.headers["x-flowtrack-token"] == "s3cret-token"
    assert first.headers["content-type"] == "application/json"
    assert first.body["launchId"] is None


async def test_stop_command_ends_the_flow_and_its_conversation(
    api: httpx.AsyncClient, receiver: CallbackReceiver
) -> None:
    receiver.answer = lambda r: (
        (200, {"command": "stop"}, 0.0)
        if r.body["event"] == "node_exit"
        else (200, {"command": "continue"}, 0.0)
    )
    await register_callback_action(api, receiver.url)
    launched = await launch(api, CONVERSATION)

    status = await finished(api, launched["id"])

    assert status["status"] == "TERMINATED"
    assert "stop" in status["completionReason"]
    assert "outputData" not in status
    assert [e["event"] for e in receiver.events(launched["id"])] == [
        "start",
        "node_enter",
        "node_exit",
    ]
    conversation = (await api.get(f"/api/v2/conversations/{status['conversation']['id']}")).json()
    assert conversation["endTime"] is not None


async def test_failed_callback_without_error_path_fails_the_run(
    api: httpx.AsyncClient, receiver: CallbackReceiver
) -> None:
    receiver.answer = lambda r: (503, {"message": "down"}, 0.0)
    await register_callback_action(api, receiver.url)
    launched = await launch(api, LINEAR)

    status = await finished(api, launched["id"])

    assert status["status"] == "FAILED"
    assert status["flowErrorInfo"]["code"] == "DATA_ACTION_FAILED"
    assert status["flowErrorInfo"]["status"] == 503


async def test_callback_timeout_takes_the_failure_path(
    api: httpx.AsyncClient, receiver: CallbackReceiver
) -> None:
    receiver.answer = lambda r: (200, {}, 1.5 if r.body["event"] == "node_enter" else 0.0)
    await register_callback_action(api, receiver.url, timeout_seconds=1)
    launched = await launch(api, LINEAR)

    status = await finished(api, launched["id"], within=6)

    assert status["status"] == "FAILED"
    assert status["flowErrorInfo"]["code"] == "DATA_ACTION_TIMEOUT"


async def test_node_error_without_error_path_ends_in_error_after_an_error_report(
    api: httpx.AsyncClient, receiver: CallbackReceiver
) -> None:
    await register_callback_action(api, receiver.url)
    launched = await launch(api, FAILING)

    status = await finished(api, launched["id"])

    assert status["status"] == "ERROR"
    assert status["flowErrorInfo"]["code"] == "BOOM"
    events = receiver.events(launched["id"])
    assert [e["event"] for e in events] == ["start", "node_enter", "error", "complete"]
    assert events[2]["errorCode"] == "BOOM"
    assert events[3]["attributes"]["status"] == "ERROR"


async def test_node_error_with_error_path_continues_there(
    api: httpx.AsyncClient, receiver: CallbackReceiver, sandbox: RunningSandbox
) -> None:
    await register_callback_action(api, receiver.url)
    launched = await launch(api, RECOVERING)

    status = await finished(api, launched["id"])

    assert status["status"] == "COMPLETED"
    trail = (await api.get(f"{sandbox.base_url}/sandbox/executions/{launched['id']}")).json()
    assert [item["objectId"] for item in trail["trail"]] == ["push", "cleanup"]
    assert trail["trail"][0]["error"]["reason"] == "FLOW_NODE_ERROR"


async def test_flow_runs_without_callbacks_when_no_action_is_registered(
    api: httpx.AsyncClient,
) -> None:
    launched = await launch(api, LINEAR)

    assert (await finished(api, launched["id"]))["status"] == "COMPLETED"


async def test_actions_of_a_disabled_integration_are_not_called(
    api: httpx.AsyncClient, receiver: CallbackReceiver
) -> None:
    await register_callback_action(api, receiver.url, enable=False)
    launched = await launch(api, LINEAR)

    await finished(api, launched["id"])

    assert receiver.requests == []


async def test_disconnect_ends_conversation_shortly_after(api: httpx.AsyncClient) -> None:
    launched = await launch(api, HANGING_CALL)
    status = (await api.get(f"/api/v2/flows/executions/{launched['id']}")).json()
    conversation_id = status["conversation"]["id"]
    assert (await api.get(f"/api/v2/conversations/{conversation_id}")).json()["endTime"] is None

    response = await api.post(f"/api/v2/conversations/{conversation_id}/disconnect")

    assert response.status_code == 202
    assert response.json() == "Accepted"
    ended = await poll_until(
        lambda: api.get(f"/api/v2/conversations/{conversation_id}"),
        lambda r: r.json()["endTime"] is not None,
    )
    participants = ended.json()["participants"]
    assert {p["calls"][0]["state"] for p in participants} == {"disconnected"}
    final = await finished(api, launched["id"])
    assert final["status"] == "TERMINATED"
    assert final["completionReason"] == "Conversation disconnected"


async def test_delete_conversation_also_tears_it_down(api: httpx.AsyncClient) -> None:
    launched = await launch(api, HANGING_CALL)
    status = (await api.get(f"/api/v2/flows/executions/{launched['id']}")).json()

    response = await api.delete(f"/api/v2/conversations/{status['conversation']['id']}")

    assert response.status_code == 204
    assert (await finished(api, launched["id"]))["status"] == "TERMINATED"


async def test_hanging_workflow_stays_running_until_forced_to_terminate(
    api: httpx.AsyncClient, sandbox: RunningSandbox
) -> None:
    launched = await launch(api, HANGING_WORKFLOW)
    await asyncio.sleep(0.1)
    status = (await api.get(f"/api/v2/flows/executions/{launched['id']}")).json()
    assert status["status"] == "RUNNING"
    assert "conversation" not in status

    forced = await api.post(f"{sandbox.base_url}/sandbox/executions/{launched['id']}/terminate")

    assert forced.json() == {"id": launched["id"], "status": "TERMINATED"}
    again = await api.post(f"{sandbox.base_url}/sandbox/executions/{launched['id']}/terminate")
    assert again.status_code == 409


async def test_disconnect_calls_are_counted_per_conversation(
    api: httpx.AsyncClient, sandbox: RunningSandbox
) -> None:
    launched = await launch(api, HANGING_CALL)
    status = (await api.get(f"/api/v2/flows/executions/{launched['id']}")).json()
    conversation_id = status["conversation"]["id"]

    for _ in range(3):
        await api.post(f"/api/v2/conversations/{conversation_id}/disconnect")

    stats = (await api.get(f"{sandbox.base_url}/sandbox/stats")).json()
    assert stats["conversations"]["conversations.disconnect_calls"] == {conversation_id: 3}
    assert stats["counters"]["launches"] == 1


async def test_interaction_starts_an_inbound_call_flow_with_a_conversation(
    api: httpx.AsyncClient, sandbox: RunningSandbox, receiver: CallbackReceiver
) -> None:
    await register_callback_action(api, receiver.url)
    started = await api.post(
        f"{sandbox.base_url}/sandbox/interactions",
        json={"flowId": "f1a00000-0000-4000-8000-000000000007"},
    )

    body = started.json()
    assert body["conversationId"]
    await wait_for(
        lambda: any(e["event"] == "complete" for e in receiver.events(body["executionId"]))
    )
    assert {e["conversationId"] for e in receiver.events(body["executionId"])} == {
        body["conversationId"]
    }


async def test_flow_naming_a_data_action_calls_only_that_action(
    api: httpx.AsyncClient, receiver: CallbackReceiver
) -> None:
    await register_callback_action(api, receiver.url)
    await register_callback_action(api, receiver.url, name="audit trail", path="/audit")
    named = await launch(api, NAMED_ACTION)
    unnamed = await launch(api, LINEAR)
    await finished(api, named["id"])
    await finished(api, unnamed["id"])

    def paths(execution_id: str) -> set[str]:
        return {r.path for r in receiver.requests if r.body["flowExecutionId"] == execution_id}

    assert paths(named["id"]) == {"/hooks/genesys"}
    assert paths(unnamed["id"]) == {"/hooks/genesys", "/audit"}


async def test_shutdown_cancels_running_flows() -> None:
    started = time.monotonic()
    async with running_sandbox(make_config()) as sandbox:
        token = await token_for(sandbox.base_url)
        async with httpx.AsyncClient(
            base_url=sandbox.base_url, headers={"Authorization": f"Bearer {token}"}
        ) as client:
            for _ in range(3):
                await launch(client, HANGING_WORKFLOW)
        assert sandbox.state.engine.running == 3

    assert sandbox.state.engine.running == 0
    assert time.monotonic() - started < 2
