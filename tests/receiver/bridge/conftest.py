"""A sandbox with fast heartbeats and short grace, and flowtrack holding its channels."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from receiver.app import create_app
from receiver.serving.server import RunningServer, running_server
from tests.conftest import READ_KEY, TEST_FLOWS, WRITE_KEY, genesys_overrides, settings_for
from tests.polling import poll_until


def bridge_settings(database_url: str, sandbox_url: str, **overrides: str) -> dict[str, str]:
    """flowtrack launching through the sandbox, holding notification channels."""
    return {
        **genesys_overrides(sandbox_url),
        "FLOWTRACK_NOTIFICATIONS": "1",
        "FLOWTRACK_NOTIFICATION_HEARTBEAT_SECONDS": "0.5",
        "FLOWTRACK_NOTIFICATION_REFRESH_SECONDS": "0.2",
        "FLOWTRACK_NOTIFICATION_LEASE_SECONDS": "3",
        **overrides,
    }


@pytest.fixture
async def sandbox() -> AsyncIterator[Any]:
    """The sandbox with the test flows, heartbeats every 0.2 s and a 1 s closing grace."""
    from sandbox.config import SandboxConfig
    from sandbox.server import running_sandbox

    config = SandboxConfig(
        flows=TEST_FLOWS,
        seed=7,
        disconnect_delay_seconds=0.05,
        heartbeat_seconds=0.2,
        socket_closing_grace_seconds=1.0,
    )
    async with running_sandbox(config) as running:
        yield running


@asynccontextmanager
async def flowtrack(
    database_url: str, sandbox: Any, **overrides: str
) -> AsyncIterator[tuple[RunningServer, httpx.AsyncClient]]:
    """A served flowtrack with the bridge on, and a write-key client for it."""
    environ = bridge_settings(database_url, sandbox.base_url, **overrides)
    app = create_app(settings_for(database_url, **environ))
    async with (
        running_server(app) as server,
        httpx.AsyncClient(
            base_url=server.base_url, headers={"Authorization": f"Bearer {WRITE_KEY}"}, timeout=20
        ) as api,
    ):
        yield server, api


async def tracking(api: httpx.AsyncClient) -> dict[str, Any]:
    response = await api.get("/api/v1/tracking", headers={"Authorization": f"Bearer {READ_KEY}"})
    assert response.status_code == 200, response.text
    state: dict[str, Any] = response.json()
    return state


async def eventually(
    fetch: Callable[[], Awaitable[Any]], check: Callable[[Any], bool], within: float = 15.0
) -> Any:
    """``poll_until`` with room for channels, heartbeats and leases (seconds, not ms)."""
    return await poll_until(fetch, check, within, every=0.05)


def listening(state: dict[str, Any], topics: int = 1) -> bool:
    """A channel is connected and carries at least ``topics`` permitted topics."""
    notifications = state["notifications"]
    permitted = [t for t in notifications["topics"] if t["state"] == "Permitted"]
    connected = [c for c in notifications["channels"] if c["connectedSince"]]
    return bool(connected) and len(permitted) >= topics
