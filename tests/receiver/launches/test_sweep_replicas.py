"""Several flowtrack processes sweeping one PostgreSQL database never act twice."""

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from sandbox.config import SandboxConfig
from sandbox.server import running_sandbox
from storage import launches as store
from storage.engine import make_engine
from storage.launches import NewLaunch, launches
from tests.conftest import (
    CALLBACK_TOKEN,
    FLOW_CALL,
    TEST_FLOWS,
    WRITE_KEY,
    free_port,
    genesys_overrides,
)

OVERDUE = 300
PROCESSES = 3


@pytest.fixture
async def busy_sandbox() -> AsyncIterator[Any]:
    # Three sweepers share one OAuth client: lift the per-client limit for this test.
    config = SandboxConfig(flows=TEST_FLOWS, rate_limit_per_minute=100_000)
    async with running_sandbox(config) as running:
        yield running


async def start_conversations(base_url: str, count: int) -> list[tuple[str, str]]:
    """Launch ``count`` hanging conversation flows on the sandbox: (execution, conversation)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        token = (
            await http.post(
                "/oauth/token",
                auth=("sandbox", "sandbox"),
                data={"grant_type": "client_credentials"},
            )
        ).json()["access_token"]
        http.headers["Authorization"] = f"Bearer {token}"
        gate = asyncio.Semaphore(20)

        async def one() -> tuple[str, str]:
            async with gate:
                launched = await http.post("/api/v2/flows/executions", json={"flowId": FLOW_CALL})
                execution = launched.json()["id"]
                seen = (await http.get(f"/api/v2/flows/executions/{execution}")).json()
                return execution, seen["conversation"]["id"]

        return await asyncio.gather(*(one() for _ in range(count)))


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_three_processes_disconnect_each_of_300_overdue_conversations_exactly_once(
    database_url: str, busy_sandbox: Any
) -> None:
    pairs = await start_conversations(busy_sandbox.base_url, OVERDUE)
    engine = make_engine(database_url)
    past = datetime.now(UTC) - timedelta(minutes=5)
    for execution, conversation in pairs:
        launch_id = str(uuid.uuid4())
        new = NewLaunch(
            launch_id,
            FLOW_CALL,
            None,
            None,
            None,
            None,
            60,
            None,
            past,
            past + timedelta(seconds=60),
        )
        await asyncio.to_thread(store.insert_launch, engine, new)
        await asyncio.to_thread(store.mark_launched, engine, launch_id, execution, past)
        await asyncio.to_thread(store.set_conversation, engine, launch_id, conversation, past)

    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWTRACK_")}
    env.update(
        genesys_overrides(busy_sandbox.base_url),
        FLOWTRACK_DATABASE_URL=database_url,
        FLOWTRACK_CALLBACK_TOKENS=CALLBACK_TOKEN,
        FLOWTRACK_API_KEYS=WRITE_KEY,
        FLOWTRACK_SWEEP_INTERVAL="0.2",
        FLOWTRACK_SWEEP_BATCH_SIZE="40",
        FLOWTRACK_SWEEP_CONFIRM_SECONDS="1",
        FLOWTRACK_LOG_LEVEL="WARNING",
        FLOWTRACK_GENESYS_RATE_LIMIT_PER_MINUTE="100000",
    )
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "receiver",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(free_port()),
            env=env,
            stderr=asyncio.subprocess.DEVNULL,
        )
        for _ in range(PROCESSES)
    ]
    try:
        timed_out = 0
        for _ in range(600):
            timed_out = await asyncio.to_thread(_count_timed_out, engine)
            if timed_out == OVERDUE:
                break
            await asyncio.sleep(0.1)
        assert timed_out == OVERDUE
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            await asyncio.wait_for(process.wait(), 30)
        engine.dispose()
    async with httpx.AsyncClient(base_url=busy_sandbox.base_url) as control:
        stats = (await control.get("/sandbox/stats")).json()
    calls = stats["conversations"]["conversations.disconnect_calls"]
    assert sorted(calls) == sorted(conversation for _, conversation in pairs)
    assert set(calls.values()) == {1}


def _count_timed_out(engine: Any) -> int:
    with engine.connect() as connection:
        count: int = connection.execute(
            select(func.count()).select_from(launches).where(launches.c.state == "timed_out")
        ).scalar_one()
        return count
