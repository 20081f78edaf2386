"""A channel's life: expiry and renewal, limits, permissions, rollover, drops and silence."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, InvalidStatus

from sandbox.server import RunningSandbox, running_sandbox
from tests.sandbox.conftest import HANGING_CALL, LINEAR, launch, make_config, token_for
from tests.sandbox.test_notifications import new_channel, next_frame

INSTANCES = f"v2.flows.instances.flow.{LINEAR}"


async def client_for(sandbox: RunningSandbox) -> httpx.AsyncClient:
    token = await token_for(sandbox.base_url)
    return httpx.AsyncClient(
        base_url=sandbox.base_url, headers={"Authorization": f"Bearer {token}"}
    )


@contextlib.asynccontextmanager
async def sandbox_with(**overrides: Any) -> AsyncIterator[tuple[RunningSandbox, httpx.AsyncClient]]:
    async with (
        running_sandbox(make_config(**overrides)) as sandbox,
        await client_for(sandbox) as api,
    ):
        yield sandbox, api


@pytest.fixture
async def short_lived() -> AsyncIterator[tuple[RunningSandbox, httpx.AsyncClient]]:
    async with sandbox_with(channel_lifetime_seconds=0.6) as running:
        yield running


@pytest.fixture
async def renewable() -> AsyncIterator[tuple[RunningSandbox, httpx.AsyncClient]]:
    async with sandbox_with(channel_lifetime_seconds=3) as running:
        yield running


@pytest.fixture
async def short_grace() -> AsyncIterator[tuple[RunningSandbox, httpx.AsyncClient]]:
    async with sandbox_with(socket_closing_grace_seconds=1.5) as running:
        yield running


async def closed(socket: ClientConnection, within: float = 5.0) -> None:
    """Read until the server closes the socket (the close raises ``ConnectionClosed``)."""
    async with asyncio.timeout(within):
        while True:
            await socket.recv()


async def subscribe(
    api: httpx.AsyncClient, channel_id: str, topics: list[str], **params: str
) -> httpx.Response:
    return await api.post(
        f"/api/v2/notifications/channels/{channel_id}/subscriptions",
        params=params,
        json=[{"id": t} for t in topics],
    )


async def expires_of(api: httpx.AsyncClient, channel_id: str) -> str:
    listed = (await api.get("/api/v2/notifications/channels")).json()["entities"]
    return str(next(c["expires"] for c in listed if c["id"] == channel_id))


async def test_a_channel_expires_after_its_lifetime_closing_its_socket_and_answering_404(
    short_lived: tuple[RunningSandbox, httpx.AsyncClient],
) -> None:
    sandbox, api = short_lived
    channel = await new_channel(api, INSTANCES)

    async with connect(channel["connectUri"]) as socket:
        with pytest.raises(ConnectionClosed):
            await closed(socket)

    assert (await api.head(f"/api/v2/notifications/channels/{channel['id']}")).status_code == 404
    listed = await api.get(f"/api/v2/notifications/channels/{channel['id']}/subscriptions")
    assert listed.status_code == 404
    assert listed.json()["code"] == "not.found"
    with pytest.raises(InvalidStatus):
        async with connect(channel["connectUri"]):
            pass
    assert sandbox.state.stats.get("notifications.channels_expired") == 1


async def test_resubscribing_renews_a_channel_and_moves_expires_forward(
    renewable: tuple[RunningSandbox, httpx.AsyncClient],
) -> None:
    _, api = renewable
    channel = await new_channel(api, INSTANCES)
    first = await expires_of(api, channel["id"])

    for _ in range(4):  # 4 s in all: past the 3 s lifetime, with room for a slow request
        await asyncio.sleep(1)
        renewed = await subscribe(api, channel["id"], [INSTANCES])
        assert renewed.status_code == 200

    assert (await api.head(f"/api/v2/notifications/channels/{channel['id']}")).status_code == 200
    assert await expires_of(api, channel["id"]) > first


async def test_a_combined_topic_counts_once_and_delivers_under_the_expanded_names(
    api: httpx.AsyncClient,
) -> None:
    launched = await launch(api, HANGING_CALL)
    status = (await api.get(f"/api/v2/flows/executions/{launched['id']}")).json()
    conversation_id = status["conversation"]["id"]
    combined = f"v2.detail.events.conversation.{conversation_id}?flow.start&flow.end"
    channel = await new_channel(api)
    singles = [f"v2.flows.instances.flow.f-{i}" for i in range(999)]

    answer = await subscribe(api, channel["id"], [combined, *singles])
    async with connect(channel["connectUri"]) as socket:
        await api.post(f"/api/v2/conversations/{conversation_id}/disconnect")
        end = await next_frame(socket, f"v2.detail.events.conversation.{conversation_id}.flow.end")
    one_more = await subscribe(api, channel["id"], ["v2.flows.instances.flow.f-1000"])

    assert answer.status_code == 200
    assert {"id": combined, "state": "Permitted"} in answer.json()["entities"]
    assert end["eventBody"]["conversationId"] == conversation_id
    assert one_more.status_code == 400
    assert "1000 topics" in one_more.json()["message"]


async def test_a_combined_topic_over_200_characters_is_a_400(api: httpx.AsyncClient) -> None:
    channel = await new_channel(api)
    suffixes = "&".join(["flow.start", "flow.end", "flow.outcome"] * 8)
    combined = f"v2.detail.events.conversation.c-1?{suffixes}"

    answer = await subscribe(api, channel["id"], [combined], ignoreErrors="true")

    assert len(combined) > 200
    assert answer.status_code == 400


@pytest.fixture
async def unprivileged() -> AsyncIterator[tuple[RunningSandbox, httpx.AsyncClient]]:
    config = make_config(permissions={"sandbox": ["analytics:flowEvent:view"]})
    async with running_sandbox(config) as sandbox, await client_for(sandbox) as api:
        yield sandbox, api


async def test_a_topic_the_client_may_not_see_is_rejected_with_its_missing_permissions(
    unprivileged: tuple[RunningSandbox, httpx.AsyncClient],
) -> None:
    sandbox, api = unprivileged
    channel = await new_channel(api)
    flow_end = "v2.detail.events.conversation.c-1.flow.end"

    ignored = await subscribe(api, channel["id"], [flow_end, INSTANCES], ignoreErrors="true")
    refused = await subscribe(api, channel["id"], [INSTANCES])
    await api.put(f"{sandbox.base_url}/sandbox/permissions/sandbox", json={"permissions": None})
    granted = await subscribe(api, channel["id"], [INSTANCES])

    assert ignored.status_code == 200
    assert ignored.json()["entities"] == [
        {"id": flow_end, "state": "Permitted"},
        {
            "id": INSTANCES,
            "state": "Rejected",
            "rejectionReason": "The client lacks the permissions the topic requires.",
            "missingPermissions": ["architect:flowInstance:view"],
        },
    ]
    assert refused.status_code == 403
    assert refused.json()["code"] == "missing.permissions"
    assert {"id": INSTANCES, "state": "Permitted"} in granted.json()["entities"]


async def test_after_socket_closing_a_second_socket_joins_and_the_old_closes_after_the_grace(
    short_grace: tuple[RunningSandbox, httpx.AsyncClient],
) -> None:
    sandbox, api = short_grace
    channel = await new_channel(api, INSTANCES)

    async with connect(channel["connectUri"]) as old:
        await asyncio.sleep(0.05)
        await api.post(f"{sandbox.base_url}/sandbox/channels/{channel['id']}/socket-closing")
        await next_frame(old, "v2.system.socket_closing")
        async with connect(channel["connectUri"]) as new:
            launched = await launch(api, LINEAR)
            on_old = await next_frame(old, INSTANCES)
            on_new = await next_frame(new, INSTANCES)
            with pytest.raises(ConnectionClosed):
                await closed(old)
            assert old.close_code == 1000
            await new.send('{"message":"ping"}')
            pong = await next_pong(new)

    assert on_old["eventBody"]["executionId"] == on_new["eventBody"]["executionId"]
    assert on_new["eventBody"]["executionId"] == launched["id"]
    assert pong["eventBody"] == {"message": "pong"}
    assert sandbox.state.stats.get("notifications.sockets_kicked") == 0


async def next_pong(socket: ClientConnection, within: float = 2.0) -> dict[str, Any]:
    while True:
        frame = await next_frame(socket, "channel.metadata", within)
        if frame["eventBody"]["message"] == "pong":
            return frame


async def test_a_dropped_socket_ends_without_a_close_frame(
    api: httpx.AsyncClient, sandbox: RunningSandbox
) -> None:
    channel = await new_channel(api, INSTANCES)

    async with connect(channel["connectUri"]) as socket:
        await asyncio.sleep(0.05)
        dropped = await api.post(f"{sandbox.base_url}/sandbox/channels/all/drop")
        with pytest.raises(ConnectionClosedError):
            await closed(socket)

    assert dropped.json() == {"dropped": 1}
    assert socket.close_code == 1006
    assert (await api.head(f"/api/v2/notifications/channels/{channel['id']}")).status_code == 200


async def test_a_silenced_socket_carries_no_heartbeat_and_no_pong(
    api: httpx.AsyncClient, sandbox: RunningSandbox
) -> None:
    channel = await new_channel(api)

    async with connect(channel["connectUri"]) as socket:
        await asyncio.sleep(0.05)
        silenced = await api.post(
            f"{sandbox.base_url}/sandbox/channels/{channel['id']}/silence", json={"silent": True}
        )
        await socket.send('{"message":"ping"}')
        with pytest.raises(TimeoutError):
            await next_frame(socket, "channel.metadata", within=0.6)
        await api.post(
            f"{sandbox.base_url}/sandbox/channels/{channel['id']}/silence", json={"silent": False}
        )
        await socket.send('{"message":"ping"}')
        pong = await next_pong(socket)

    assert silenced.json() == {"silent": True, "sockets": 1}
    assert pong["eventBody"]["message"] == "pong"


async def test_a_channel_dies_with_the_token_that_created_it(
    api: httpx.AsyncClient, sandbox: RunningSandbox
) -> None:
    channel = await new_channel(api, INSTANCES)

    async with connect(channel["connectUri"]) as socket:
        await api.post(f"{sandbox.base_url}/sandbox/tokens/expire")
        with pytest.raises(ConnectionClosed):
            await closed(socket)

    async with await client_for(sandbox) as fresh:
        head = await fresh.head(f"/api/v2/notifications/channels/{channel['id']}")
    assert head.status_code == 404


async def test_expiring_a_channel_from_the_controls_closes_it_now(
    api: httpx.AsyncClient, sandbox: RunningSandbox
) -> None:
    channel = await new_channel(api, INSTANCES)
    listed = (await api.get(f"{sandbox.base_url}/sandbox/channels")).json()["entities"]

    async with connect(channel["connectUri"]) as socket:
        expired = await api.post(f"{sandbox.base_url}/sandbox/channels/{channel['id']}/expire")
        with pytest.raises(ConnectionClosed):
            await closed(socket)

    assert [(c["id"], c["topics"]) for c in listed] == [(channel["id"], [INSTANCES])]
    assert expired.json() == {"expired": 1}
    assert (await api.head(f"/api/v2/notifications/channels/{channel['id']}")).status_code == 404


async def test_evicting_a_connected_channel_closes_its_socket(api: httpx.AsyncClient) -> None:
    channels = [await new_channel(api) for _ in range(20)]
    sockets = [await connect(c["connectUri"]) for c in channels]
    try:
        await new_channel(api)
        with pytest.raises(ConnectionClosed):
            await closed(sockets[0])
    finally:
        for socket in sockets:
            await socket.close()

    assert (
        await api.head(f"/api/v2/notifications/channels/{channels[0]['id']}")
    ).status_code == 404
