"""Pull alone: the history of launches without data action steps, downloaded from the
sandbox's execution-data endpoints after the runs end."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import create_engine, insert

from storage.tables import Launch
from tests.conftest import FLOW_FAILS, FLOW_OK, FLOW_SLOW, READ_KEY
from tests.receiver.bridge.conftest import eventually, flowtrack, listening, tracking
from tests.receiver.bridge.test_push import ended, launch, settles_as, transitions, visits

READ = {"Authorization": f"Bearer {READ_KEY}"}
PULL = {
    "FLOWTRACK_NOTIFICATIONS": "0",
    "FLOWTRACK_HISTORY_PULL": "1",
    "FLOWTRACK_HISTORY_PULL_INTERVAL": "0.3",
    "FLOWTRACK_HISTORY_PULL_POLL_SECONDS": "0.05",
    "FLOWTRACK_HISTORY_PULL_CALLS_PER_MINUTE": "6000",
}


async def events_of(api: httpx.AsyncClient, launch_id: str) -> list[dict[str, Any]]:
    response = await api.get(
        "/api/v1/events", params={"launchId": launch_id, "limit": "1000"}, headers=READ
    )
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_a_flow_without_data_actions_gets_its_whole_history_from_pull_alone(
    database_url: str, sandbox: Any
) -> None:
    async with flowtrack(database_url, sandbox, **PULL) as (_, api):
        ok, fails = await launch(api, FLOW_OK), await launch(api, FLOW_FAILS)

        page = await eventually(lambda: transitions(api, ok), ended)
        assert page["nodeSource"] == "platform"
        assert visits(page) == [("prepare", "exited"), ("lookup", "exited"), ("notify", "exited")]
        nodes = [s for s in page["items"] if s["type"] == "node"]
        assert {s["source"] for s in nodes} == {"history"}
        # The downloaded record names the nodes; the pushed message does not.
        assert [s["nodeName"] for s in nodes] == ["Prepare", "Look up", "Notify"]
        await settles_as(api, ok, "completed")

        page = await eventually(lambda: transitions(api, fails), ended)
        assert visits(page) == [("fetch", "exited"), ("push", "errored")]
        await settles_as(api, fails, "failed")

        state = await eventually(
            lambda: tracking(api), lambda s: s["historyPull"]["launches"]["pulled"] == 2
        )
        assert state["historyPull"]["executionData"] is True
        assert state["historyPull"]["lastError"] is None


async def test_a_gap_mid_run_is_backfilled_and_nothing_is_stored_twice(
    database_url: str, sandbox: Any
) -> None:
    both = {**PULL, "FLOWTRACK_NOTIFICATIONS": "1", "FLOWTRACK_NOTIFICATION_FLOWS": FLOW_SLOW}
    async with (
        flowtrack(database_url, sandbox, **both) as (_, api),
        httpx.AsyncClient(base_url=sandbox.base_url) as sandbox_api,
    ):
        await eventually(lambda: tracking(api), listening)
        launch_id = await launch(api, FLOW_SLOW)
        await eventually(lambda: transitions(api, launch_id), lambda page: page["items"])
        # The socket drops while the flow runs: the gap covers it, so the pull fetches it
        # too, after the push (reconnected in time) delivered the same run.
        await sandbox_api.post("/sandbox/channels/all/drop", json={})
        state = await eventually(
            lambda: tracking(api),
            lambda s: s["gaps"] and s["gaps"][0]["backfill"] == "pulled",
            within=30,
        )
        assert state["historyPull"]["launches"]["pulled"] == 1
        assert state["historyPull"]["duplicateEvents"] > 0
        page = await transitions(api, launch_id)
        assert visits(page) == [(f"step-{n}", "exited") for n in range(20)]
        stored = await events_of(api, launch_id)
        kinds = Counter(e["kind"] for e in stored if e["source"] != "flowtrack")
        assert (kinds["node_enter"], kinds["node_exit"], kinds["complete"]) == (20, 20, 1)


async def test_the_pull_says_when_execution_data_is_off(database_url: str) -> None:
    from sandbox.config import SandboxConfig
    from sandbox.server import running_sandbox
    from tests.conftest import TEST_FLOWS

    config = SandboxConfig(flows=TEST_FLOWS, seed=7, execution_data=False)
    async with (
        running_sandbox(config) as sandbox,
        flowtrack(database_url, sandbox, **PULL) as (_, api),
    ):
        state = await eventually(
            lambda: tracking(api), lambda s: s["historyPull"]["executionData"] is not None
        )
        assert state["historyPull"]["executionData"] is False


async def test_a_launch_past_retention_without_history_is_marked_expired(
    database_url: str, sandbox: Any
) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=11)
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(
            insert(Launch.__table__),  # type: ignore[attr-defined]
            [
                {
                    "id": "l-old",
                    "flow_id": FLOW_OK,
                    "state": "completed",
                    "flow_execution_id": "x-old",
                    "created_at": long_ago,
                    "updated_at": long_ago,
                    "ended_at": long_ago,
                }
            ],
        )
    engine.dispose()
    async with flowtrack(database_url, sandbox, **PULL) as (_, api):
        state = await eventually(
            lambda: tracking(api), lambda s: s["historyPull"]["launches"]["expired"] == 1
        )
        assert state["historyPull"]["launches"]["pulled"] == 0
        [given_up] = state["historyPull"]["givenUp"]
        assert (given_up["launchId"], given_up["state"]) == ("l-old", "expired")


async def test_the_pull_spends_no_more_calls_than_its_budget(
    database_url: str, sandbox: Any
) -> None:
    import asyncio

    tight = {**PULL, "FLOWTRACK_HISTORY_PULL_CALLS_PER_MINUTE": "2"}
    async with (
        flowtrack(database_url, sandbox, **tight) as (_, api),
        httpx.AsyncClient(base_url=sandbox.base_url) as sandbox_api,
    ):
        await launch(api, FLOW_OK)
        await launch(api, FLOW_FAILS)
        await asyncio.sleep(3)
        counters = (await sandbox_api.get("/sandbox/stats")).json()["counters"]
        # The setting read and one query: the bucket of 2 is empty, nothing more for 30 s.
        assert counters.get("history.queries", 0) == 1
        assert counters.get("history.downloads", 0) == 0
        state = await tracking(api)
        assert state["historyPull"]["launches"]["pulled"] == 0
