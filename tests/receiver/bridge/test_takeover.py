"""Two ``flowtrack serve`` processes on one PostgreSQL database: one channel holder; when
it is killed (``kill -9``) the other takes over within the lease, records the time
nobody listened as a gap, and the history pull backfills the launches of that gap."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from tests.conftest import FLOW_OK, READ_KEY, WRITE_KEY
from tests.processes import served
from tests.receiver.bridge.conftest import bridge_settings, eventually, listening
from tests.receiver.bridge.test_push import ended, visits

READ = {"Authorization": f"Bearer {READ_KEY}"}


@asynccontextmanager
async def serve(database_url: str, sandbox_url: str) -> AsyncIterator[tuple[Any, str]]:
    """``flowtrack serve`` in a child process with the bridge on; its process and URL."""
    settings = bridge_settings(
        database_url,
        sandbox_url,
        FLOWTRACK_NOTIFICATION_FLOWS=FLOW_OK,
        FLOWTRACK_HISTORY_PULL="1",
        FLOWTRACK_HISTORY_PULL_INTERVAL="0.5",
        FLOWTRACK_HISTORY_PULL_POLL_SECONDS="0.1",
    )
    async with served(database_url, ready="/readyz", **settings) as (process, base):
        yield process, base


async def tracking_at(base: str) -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{base}/api/v1/tracking", headers=READ)
    assert response.status_code == 200, response.text
    state: dict[str, Any] = response.json()
    return state


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_one_holder_among_two_processes_and_the_other_takes_over_after_kill_9(
    database_url: str, sandbox: Any
) -> None:
    async with (
        serve(database_url, sandbox.base_url) as (first, first_url),
        serve(database_url, sandbox.base_url) as (second, second_url),
        httpx.AsyncClient(base_url=sandbox.base_url) as sandbox_api,
    ):
        state = await eventually(lambda: tracking_at(first_url), listening)
        holder = state["notifications"]["holder"]
        assert (await tracking_at(second_url))["notifications"]["holder"] == holder
        sockets = (await sandbox_api.get("/sandbox/channels")).json()["entities"]
        assert sum(len(channel["sockets"]) for channel in sockets) == 1

        pids = {first.pid: (first, second_url), second.pid: (second, first_url)}
        victim, survivor_url = pids[int(holder.split(":")[1])]
        killed_at = time.monotonic()
        os.kill(victim.pid, signal.SIGKILL)
        await victim.wait()

        async with httpx.AsyncClient(
            base_url=survivor_url, headers={"Authorization": f"Bearer {WRITE_KEY}"}
        ) as api:
            # Launched while nobody listens: its message is lost to the push.
            launched = await api.post("/api/v1/launches", json={"flowId": FLOW_OK})
            assert launched.status_code == 201, launched.text

            def taken_over(state: dict[str, Any]) -> bool:
                return listening(state) and state["notifications"]["holder"] != holder

            state = await eventually(lambda: tracking_at(survivor_url), taken_over, within=20)
            # Lease 3 s, tried every second: well within the documented lease + a third.
            assert time.monotonic() - killed_at < 3 + 1 + 2
            sockets = (await sandbox_api.get("/sandbox/channels")).json()["entities"]
            assert sum(len(channel["sockets"]) for channel in sockets) == 1

            def backfilled(state: dict[str, Any]) -> bool:
                gaps = state["gaps"]
                return bool(gaps) and gaps[0]["backfill"] == "pulled"

            state = await eventually(lambda: tracking_at(survivor_url), backfilled, within=20)
            [gap] = state["gaps"]
            assert gap["reason"] == "holder_changed"
            assert state["historyPull"]["launches"]["pulled"] >= 1

            path = f"/api/v1/launches/{launched.json()['id']}/transitions"

            async def page() -> dict[str, Any]:
                found: dict[str, Any] = (await api.get(path, headers=READ)).json()
                return found

            history = await eventually(page, ended)
        assert visits(history) == [
            ("prepare", "exited"),
            ("lookup", "exited"),
            ("notify", "exited"),
        ]
