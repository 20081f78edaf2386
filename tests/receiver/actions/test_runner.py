"""The run workers against the real sandbox: 429s, the queue, replicas, a killed process."""

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select

from receiver.app import create_app
from receiver.serving.server import running_server
from storage.action_runs import runs
from tests.conftest import (
    FLOWTRACK,
    LOOKUP_ACCOUNT,
    SLOW_REPORT,
    WRITE_KEY,
    action_settings,
    free_port,
    genesys_overrides,
    sandbox_executions,
)
from tests.receiver.api.test_actions import finished, run

WAIT = {"Prefer": "wait=20"}


@asynccontextmanager
async def flowtrack(
    database_url: str, sandbox: Any, **overrides: str
) -> AsyncIterator[httpx.AsyncClient]:
    """A flowtrack app executing through ``sandbox``, and a write-key client for it."""
    app = create_app(action_settings(database_url, sandbox.base_url, **overrides))
    async with (
        running_server(app) as server,
        httpx.AsyncClient(
            base_url=server.base_url, headers={"Authorization": f"Bearer {WRITE_KEY}"}, timeout=30
        ) as api,
    ):
        yield api


@asynccontextmanager
async def limited_sandbox(**limits: int) -> AsyncIterator[Any]:
    from sandbox.config import SandboxConfig
    from sandbox.server import running_sandbox

    async with running_sandbox(SandboxConfig(seed=7, sample_actions=True, **limits)) as sandbox:
        yield sandbox


async def in_flight_at(sandbox: Any, count: int) -> None:
    """Wait until the sandbox has ``count`` executions in flight."""
    deadline = time.monotonic() + 10
    async with httpx.AsyncClient(base_url=sandbox.base_url) as control:
        while (await control.get("/sandbox/actions/executions")).json()["inFlight"] < count:
            assert time.monotonic() < deadline, "the execution never started"
            await asyncio.sleep(0.02)


async def test_a_429_is_retried_even_for_a_run_that_is_not_idempotent(database_url: str) -> None:
    async with (
        limited_sandbox(action_concurrency_limit=1) as sandbox,
        flowtrack(database_url, sandbox) as api,
    ):
        slow = await run(api, SLOW_REPORT, {"input": {"reportName": "r", "delaySeconds": 1}})
        await in_flight_at(sandbox, 1)
        body = (await run(api, LOOKUP_ACCOUNT, {"input": {"accountId": "A-1"}}, **WAIT)).json()
        assert body["state"] == "succeeded"
        assert body["attempts"][0]["status"] == 429
        assert body["attempts"][0]["outcome"] == "rate_limited"
        assert body["attempts"][-1]["status"] == 200
        assert (await sandbox_executions(sandbox, LOOKUP_ACCOUNT))["executed"] == 1
        assert (await finished(api, slow.headers["location"]))["state"] == "succeeded"


async def test_only_a_queued_run_can_be_cancelled(database_url: str, action_sandbox: Any) -> None:
    async with flowtrack(database_url, action_sandbox, FLOWTRACK_ACTIONS_CONCURRENCY="1") as api:
        slow = await run(api, SLOW_REPORT, {"input": {"reportName": "r", "delaySeconds": 1}})
        queued = await run(api, LOOKUP_ACCOUNT, {"input": {"accountId": "A-1"}})
        assert queued.json()["state"] == "queued"
        cancelled = await api.post(queued.headers["location"] + "/cancel")
        assert cancelled.status_code == 200
        assert (cancelled.json()["state"], cancelled.json()["failureReason"]) == (
            "cancelled",
            "cancelled",
        )
        sent = await api.post(slow.headers["location"] + "/cancel")
        assert (sent.status_code, sent.json()["error"]) == (409, "action_run_not_cancellable")
        assert "cannot be recalled" in sent.json()["message"]
        assert (await finished(api, slow.headers["location"]))["state"] == "succeeded"
        again = await api.post(queued.headers["location"] + "/cancel")
        assert "already ended (cancelled)" in again.json()["message"]
        assert (await sandbox_executions(action_sandbox, LOOKUP_ACCOUNT))["executed"] == 0
        missing = await api.post("/api/v1/action-runs/nope/cancel")
        assert missing.status_code == 404


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_two_replicas_execute_each_of_200_queued_runs_exactly_once(
    database_url: str, engine: Engine
) -> None:
    # Platform API pacing (300 requests/min per client) is not what this is about.
    paced = {
        "FLOWTRACK_ACTIONS_CONCURRENCY": "4",
        "FLOWTRACK_GENESYS_RATE_LIMIT_PER_MINUTE": "6000",
    }
    async with (
        limited_sandbox(rate_limit_per_minute=6000) as sandbox,
        flowtrack(database_url, sandbox, **paced) as one,
        flowtrack(database_url, sandbox, **paced) as two,
    ):
        asked = await asyncio.gather(
            *(
                run(api, LOOKUP_ACCOUNT, {"input": {"accountId": f"A-{n}"}})
                for n, api in ((n, one if n % 2 else two) for n in range(200))
            )
        )
        assert {response.status_code for response in asked} == {202}
        ended = [await finished(one, response.headers["location"], 60) for response in asked]
        assert {body["state"] for body in ended} == {"succeeded"}
        assert {len(body["attempts"]) for body in ended} == {1}
        assert (await sandbox_executions(sandbox, LOOKUP_ACCOUNT))["executed"] == 200
    with engine.connect() as connection:
        workers = dict(
            connection.execute(
                select(runs.c.claimed_by, func.count()).group_by(runs.c.claimed_by)
            ).all()
        )
    assert len(workers) == 2, workers
    assert sum(workers.values()) == 200


def _serve(database_url: str, sandbox_url: str, port: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWTRACK_")}
    env.update(genesys_overrides(sandbox_url))
    env.update(
        FLOWTRACK_DATABASE_URL=database_url,
        FLOWTRACK_API_KEYS=WRITE_KEY,
        FLOWTRACK_CALLBACK_TOKENS="test-callback-token-0123456789",
        FLOWTRACK_ACTIONS_LEASE_SECONDS="1",
    )
    return subprocess.Popen(
        [*FLOWTRACK, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def test_a_run_in_flight_when_its_process_is_killed_is_unknown_not_executed_again(
    database_url: str, action_sandbox: Any
) -> None:
    port = free_port()
    child = _serve(database_url, action_sandbox.base_url, port)
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {WRITE_KEY}"}
        ) as doomed:
            deadline = time.monotonic() + 20
            while True:
                try:
                    if (await doomed.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "flowtrack serve did not become ready"
                await asyncio.sleep(0.1)
            report = {"reportName": "r", "delaySeconds": 1.5}
            plain = await run(doomed, SLOW_REPORT, {"input": report})
            again = await run(doomed, SLOW_REPORT, {"input": report, "idempotent": True})
            await in_flight_at(action_sandbox, 2)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    async with flowtrack(database_url, action_sandbox, FLOWTRACK_ACTIONS_LEASE_SECONDS="1") as api:
        lost = await finished(api, plain.headers["location"], 10)
        assert (lost["state"], lost["failureReason"]) == ("unknown", "interrupted")
        assert lost["attempts"] == []
        redone = await finished(api, again.headers["location"], 10)
        assert redone["state"] == "succeeded"
        await asyncio.sleep(1.5)
        assert (await api.get(plain.headers["location"])).json()["state"] == "unknown"
    # The plain run was sent once (before the kill); the idempotent one twice.
    assert (await sandbox_executions(action_sandbox, SLOW_REPORT))["executed"] == 3
