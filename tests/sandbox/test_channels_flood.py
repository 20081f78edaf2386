"""The flood control publishes flow-instance messages for the bridge benchmark."""

from __future__ import annotations

import asyncio

import httpx
import orjson
import pytest
from websockets.asyncio.client import connect

from sandbox.server import RunningSandbox
from tests.sandbox.conftest import LINEAR
from tests.sandbox.test_notifications import new_channel

TOPIC = f"v2.flows.instances.flow.{LINEAR}"


async def test_a_flood_reaches_every_subscribed_socket_with_its_publish_time(
    api: httpx.AsyncClient, sandbox: RunningSandbox
) -> None:
    channel = await new_channel(api, TOPIC)

    async with connect(channel["connectUri"]) as socket:
        answer = await api.post(
            f"{sandbox.base_url}/sandbox/notifications/flood", json={"flowId": LINEAR, "count": 500}
        )
        frames = []
        async with asyncio.timeout(10):
            while len(frames) < 500:
                frame = orjson.loads(await socket.recv())
                if frame["topicName"] == TOPIC:
                    frames.append(frame)

    assert answer.status_code == 200
    assert answer.json()["published"] == 500
    assert answer.json()["frames"] == 500
    bodies = [f["eventBody"] for f in frames]
    assert len({b["executionId"] for b in bodies}) == 500
    assert all(
        b["sandboxPublishedAt"] == f["metadata"]["sandboxPublishedAt"]
        for b, f in zip(bodies, frames, strict=True)
    )
    assert [b["sandboxPublishedAt"] for b in bodies] == sorted(
        b["sandboxPublishedAt"] for b in bodies
    )
    started, *visits = bodies[0]["execution"]
    assert started["objectType"] == "startedFlow"
    assert [(v["objectId"], v["outputPathId"]) for v in visits] == [
        ("a", "__SUCCESS__"),
        ("b", "found"),
        ("c", "__SUCCESS__"),
    ]


async def test_a_paced_flood_publishes_the_count_asked(
    api: httpx.AsyncClient, sandbox: RunningSandbox
) -> None:
    answer = await api.post(
        f"{sandbox.base_url}/sandbox/notifications/flood",
        json={"flowId": LINEAR, "count": 20, "ratePerSecond": 1000},
    )

    assert answer.json()["published"] == 20
    assert answer.json()["frames"] == 0  # nobody subscribed: nothing sent
    assert sandbox.state.stats.get("notifications.flooded") == 20


@pytest.mark.parametrize(
    "body",
    [{"flowId": LINEAR, "count": 0}, {"flowId": LINEAR, "count": True}, {"flowId": LINEAR}],
)
async def test_a_flood_without_a_sensible_count_is_a_400(
    api: httpx.AsyncClient, sandbox: RunningSandbox, body: dict[str, object]
) -> None:
    answer = await api.post(f"{sandbox.base_url}/sandbox/notifications/flood", json=body)

    assert answer.status_code == 400
    assert "count" in answer.json()["message"]
