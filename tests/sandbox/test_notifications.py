"""Notification channels push frames over a real WebSocket at ``connectUri``."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from sandbox.server import RunningSandbox
from tests.sandbox.conftest import HANGING_CALL, LINEAR, finished, launch


async def new_channel(api: httpx.AsyncClient, *topics: str) -> dict[str, Any]:
    channel: dict[str, Any] = (await api.post("/api/v2/notifications/channels")).json()
    if topics:
        response = await api.put(
            f"/api/v2/notifications/channels/{channel['id']}/subscriptions",
            json=[{"id": t} for t in topics],
        )
        assert response.status_code == 200, response.text
    return channel


async def next_frame(socket: ClientConnection, topic: str, within: float = 3.0) -> dict[str, Any]:
    """The next frame on ``topic``, skipping the others (heartbeats, other topics)."""
    async with asyncio.timeout(within):
        while True:
            frame: dict[str, Any] = orjson.loads(await socket.recv())
            if frame["topicName"] == topic:
                return frame


async def read_until_closed(socket: ClientConnection) -> None:
    async with asyncio.timeout(2):
        while True:
            await socket.recv()


async def test_subscribed_socket_receives_flow_end_and_execution_history(
    api: httpx.AsyncClient,
) -> None:
    launched = await launch(api, HANGING_CALL)
    status = (await api.get(f"/api/v2/flows/executions/{launched['id']}")).json()
    conversation_id = status["conversation"]["id"]
    flow_end = f"v2.detail.events.conversation.{conversation_id}.flow.end"
    history = f"v2.flows.instances.flow.{HANGING_CALL}"
    channel = await new_channel(api, flow_end, history)

    async with connect(channel["connectUri"]) as socket:
        await api.post(f"/api/v2/conversations/{conversation_id}/disconnect")
        end = await next_frame(socket, flow_end)
        instances = await next_frame(socket, history)

    assert end["version"] == "2"
    assert end["metadata"]["CorrelationId"]
    assert end["eventBody"]["conversationId"] == conversation_id
    assert end["eventBody"]["exitReason"] == "DISCONNECT"
    assert end["eventBody"]["disconnectType"] == "SYSTEM"
    assert isinstance(end["eventBody"]["eventTime"], int)
    assert instances["eventBody"]["executionId"] == launched["id"]
    started, waited = instances["eventBody"]["execution"]
    assert started["objectType"] == "startedFlow"
    assert "objectId" not in started
    assert waited["objectId"] == "wait"


async def test_workflow_run_publishes_one_history_message_when_it_finishes(
    api: httpx.AsyncClient,
) -> None:
    topic = f"v2.flows.instances.flow.{LINEAR}"
    channel = await new_channel(api, topic)

    async with connect(channel["connectUri"]) as socket:
        launched = await launch(api, LINEAR)
        frame = await next_frame(socket, topic)

    body = frame["eventBody"]
    assert body["executionId"] == launched["id"]
    assert body["flowType"] == "workflow"
    assert body["flowExitReason"] == "FLOW_EXIT"
    started, *visits = body["execution"]
    assert started == {
        "objectType": "startedFlow",
        "startDateTime": body["startDateTime"],
        "languageTag": "en-us",
    }
    assert [item["objectId"] for item in visits] == ["a", "b", "c"]
    assert [item["outputPathId"] for item in visits] == [
        "__SUCCESS__",
        "found",
        "__SUCCESS__",
    ]
    assert "conversationId" not in body


async def test_heartbeats_arrive_on_channel_metadata(api: httpx.AsyncClient) -> None:
    channel = await new_channel(api)

    async with connect(channel["connectUri"]) as socket:
        beat = await next_frame(socket, "channel.metadata", within=2)

    assert beat == {
        "topicName": "channel.metadata",
        "eventBody": {"message": "WebSocket Heartbeat"},
    }


async def test_ping_is_answered_with_pong(api: httpx.AsyncClient) -> None:
    channel = await new_channel(api)

    async with connect(channel["connectUri"]) as socket:
        await socket.send('{"message":"ping"}')
        while True:
            frame = await next_frame(socket, "channel.metadata")
            if frame["eventBody"]["message"] != "WebSocket Heartbeat":
                break

    assert frame["eventBody"] == {"message": "pong"}


async def test_second_connection_kicks_the_first(
    api: httpx.AsyncClient, sandbox: RunningSandbox
) -> None:
    topic = f"v2.flows.instances.flow.{LINEAR}"
    channel = await new_channel(api, topic)

    async with (
        connect(channel["connectUri"]) as first,
        connect(channel["connectUri"]) as second,
    ):
        with pytest.raises(ConnectionClosed):
            await read_until_closed(first)
        launched = await launch(api, LINEAR)
        frame = await next_frame(second, topic)

    assert frame["eventBody"]["executionId"] == launched["id"]
    assert sandbox.state.stats.get("notifications.sockets_kicked") == 1


async def test_socket_for_an_unknown_channel_is_refused(sandbox: RunningSandbox) -> None:
    url = sandbox.base_url.replace("http://", "ws://") + "/channels/streaming-0-unknown"

    with pytest.raises(InvalidStatus):
        async with connect(url):
            pass


async def test_twenty_first_channel_evicts_the_least_recently_used_unconnected_one(
    api: httpx.AsyncClient,
) -> None:
    channels = [await new_channel(api) for _ in range(20)]

    async with connect(channels[0]["connectUri"]):
        newest = await new_channel(api)
        listed = (await api.get("/api/v2/notifications/channels")).json()["entities"]

    ids = [c["id"] for c in listed]
    assert len(ids) == 20
    assert channels[0]["id"] in ids
    assert channels[1]["id"] not in ids
    assert newest["id"] in ids
    gone = await api.head(f"/api/v2/notifications/channels/{channels[1]['id']}")
    assert gone.status_code == 404


async def test_socket_closing_notice_is_pushed_on_demand(
    api: httpx.AsyncClient, sandbox: RunningSandbox
) -> None:
    channel = await new_channel(api)

    async with connect(channel["connectUri"]) as socket:
        await asyncio.sleep(0.05)
        pushed = await api.post(
            f"{sandbox.base_url}/sandbox/channels/{channel['id']}/socket-closing"
        )
        frame = await next_frame(socket, "v2.system.socket_closing")

    assert pushed.json() == {"sent": True, "sockets": 1}
    assert frame["eventBody"]["message"]


async def test_frames_for_unconnected_channels_are_dropped(
    api: httpx.AsyncClient, sandbox: RunningSandbox
) -> None:
    await new_channel(api, f"v2.flows.instances.flow.{LINEAR}")
    launched = await launch(api, LINEAR)

    await finished(api, launched["id"])

    assert sandbox.state.stats.get("notifications.dropped") == 1
