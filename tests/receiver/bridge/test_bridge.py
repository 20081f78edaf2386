"""The holder's topics: what it follows, how they spread over channels, what is refused."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import create_engine, insert

from storage.tables import Launch
from tests.conftest import FLOW_OK
from tests.receiver.bridge.conftest import eventually, flowtrack, listening, tracking

launches = Launch.__table__  # type: ignore[attr-defined]


def running_launches(database_url: str, count: int) -> list[str]:
    """``count`` running launches of FLOW_OK, each in its own conversation."""
    now = datetime.now(UTC)
    conversations = [f"c0000000-0000-4000-8000-{n:012d}" for n in range(count)]
    rows = [
        {
            "id": f"l-{n}",
            "flow_id": FLOW_OK,
            "state": "running",
            "conversation_id": conversation,
            "created_at": now,
            "updated_at": now,
        }
        for n, conversation in enumerate(conversations)
    ]
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(insert(launches), rows)
    engine.dispose()
    return conversations


async def test_twelve_hundred_tracked_conversations_spread_over_two_channels(
    database_url: str, sandbox: Any
) -> None:
    conversations = running_launches(database_url, 1200)
    async with flowtrack(database_url, sandbox) as (_, api):
        state = await eventually(lambda: tracking(api), lambda s: listening(s, topics=1201))
        channels = state["notifications"]["channels"]
        assert sorted(c["topics"] for c in channels) == [301, 900]
        assert all(c["connectedSince"] for c in channels)
        topics = {t["id"] for t in state["notifications"]["topics"]}
        combined = (
            f"v2.detail.events.conversation.{conversations[0]}?flow.start&flow.end&flow.outcome"
        )
        assert combined in topics
        assert f"v2.flows.instances.flow.{FLOW_OK}" in topics
        assert state["notifications"]["leftOut"] == []


async def test_a_topic_beyond_the_budget_is_left_out_and_said_so(
    database_url: str, sandbox: Any
) -> None:
    running_launches(database_url, 30)
    settings = {
        "FLOWTRACK_NOTIFICATION_TOPICS_PER_CHANNEL": "10",
        "FLOWTRACK_NOTIFICATION_MAX_CHANNELS": "2",
    }
    async with flowtrack(database_url, sandbox, **settings) as (_, api):
        state = await eventually(lambda: tracking(api), lambda s: listening(s, topics=20))
        assert len(state["notifications"]["channels"]) == 2
        # The flow's topic comes first: it is followed, conversations are left out.
        assert f"v2.flows.instances.flow.{FLOW_OK}" in {
            t["id"] for t in state["notifications"]["topics"]
        }
        assert len(state["notifications"]["leftOut"]) == 11


async def test_a_rejected_topic_shows_the_permissions_it_lacks(
    database_url: str, sandbox: Any
) -> None:
    running_launches(database_url, 1)
    async with httpx.AsyncClient(base_url=sandbox.base_url) as sandbox_api:
        granted = {"permissions": ["architect:flowInstance:view"]}
        answer = await sandbox_api.put("/sandbox/permissions/sandbox", json=granted)
        assert answer.status_code == 200, answer.text
    async with flowtrack(database_url, sandbox) as (_, api):
        state = await eventually(
            lambda: tracking(api), lambda s: s["notifications"]["rejectedTopics"]
        )
        [rejected] = state["notifications"]["rejectedTopics"]
        assert rejected["id"].startswith("v2.detail.events.conversation.")
        assert rejected["missingPermissions"] == ["analytics:flowEvent:view"]
        permitted = [t["id"] for t in state["notifications"]["topics"] if t["state"] == "Permitted"]
        assert permitted == [f"v2.flows.instances.flow.{FLOW_OK}"]


async def test_a_flow_that_reports_through_data_actions_is_not_subscribed(
    database_url: str, sandbox: Any
) -> None:
    from tests.conftest import CALLBACK_TOKEN, FLOW_FAILS

    running_launches(database_url, 1)  # a launch of FLOW_OK
    async with flowtrack(database_url, sandbox, FLOWTRACK_NOTIFICATION_FLOWS=FLOW_FAILS) as (
        _server,
        api,
    ):
        await eventually(lambda: tracking(api), lambda s: listening(s, topics=3))
        callback = {"event": "node_enter", "launchId": "l-0", "flowId": FLOW_OK, "nodeId": "a"}
        answer = await api.post(
            "/webhooks/genesys",
            json=callback,
            headers={"Authorization": f"Bearer {CALLBACK_TOKEN}"},
        )
        assert answer.status_code == 200, answer.text

        def only_the_listed_flow(state: dict[str, Any]) -> bool:
            topics = [t["id"] for t in state["notifications"]["topics"]]
            return topics == [f"v2.flows.instances.flow.{FLOW_FAILS}"]

        await eventually(lambda: tracking(api), only_the_listed_flow)
