"""The audit trail of data action runs: each run asked for, and each cancellation."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from receiver.app import create_app
from receiver.serving.server import RunningServer, running_server
from tests.conftest import LOOKUP_ACCOUNT, READ_KEY, SLOW_REPORT, WRITE_KEY, action_settings
from tests.receiver.api.test_actions import finished, run

OPS_KEY = "ops-key-0123456789abcdef"
WAIT = {"Prefer": "wait=20"}


@pytest.fixture
async def named(database_url: str, action_sandbox: Any) -> AsyncIterator[RunningServer]:
    """flowtrack executing through the sandbox one run at a time, with a named write key."""
    settings = action_settings(
        database_url,
        action_sandbox.base_url,
        FLOWTRACK_API_KEYS=f"ops:{OPS_KEY},{WRITE_KEY}",
        FLOWTRACK_ACTIONS_CONCURRENCY="1",
    )
    async with running_server(create_app(settings)) as running:
        yield running


def client(server: RunningServer, key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )


async def audit_of(server: RunningServer, **params: str) -> list[tuple[Any, ...]]:
    async with client(server, READ_KEY) as reader:
        answer = await reader.get("/api/v1/audit", params=params)
    assert answer.status_code == 200, answer.text
    return [
        (r["keyName"], r["action"], r["target"], r["outcome"], r["detail"])
        for r in answer.json()["items"]
    ]


async def test_a_run_its_replay_and_a_reused_key_are_recorded_with_the_key_s_name(
    named: RunningServer,
) -> None:
    key = {"Idempotency-Key": "order-4711"}
    async with client(named, OPS_KEY) as ops:
        first = await run(
            ops,
            LOOKUP_ACCOUNT,
            {"input": {"accountId": "A-1"}},
            **key,
            **WAIT,
            **{"X-Request-Id": "req-run-1"},
        )
        replay = await run(ops, LOOKUP_ACCOUNT, {"input": {"accountId": "A-1"}}, **key)
        reused = await run(ops, LOOKUP_ACCOUNT, {"input": {"accountId": "A-2"}}, **key)
        dry = await run(ops, LOOKUP_ACCOUNT, {"input": {"accountId": "A-3"}, "dryRun": True})
    assert (first.status_code, replay.status_code, reused.status_code) == (201, 200, 409)
    run_id, dry_id = first.json()["id"], dry.json()["id"]
    about = f"action {LOOKUP_ACCOUNT}"
    assert await audit_of(named, action="action_run") == [
        ("ops", "action_run", dry_id, "created", f"{about}, dry run"),
        ("ops", "action_run", run_id, "refused", "idempotency_key_reused"),
        ("ops", "action_run", run_id, "replayed", about),
        ("ops", "action_run", run_id, "created", about),
    ]
    async with client(named, READ_KEY) as reader:
        oldest = (await reader.get("/api/v1/audit", params={"target": run_id})).json()["items"]
    assert oldest[-1]["requestId"] == "req-run-1"


async def test_an_input_refused_by_the_contract_is_not_a_write_and_is_not_recorded(
    named: RunningServer,
) -> None:
    async with client(named, OPS_KEY) as ops:
        refused = await run(ops, LOOKUP_ACCOUNT, {"input": {"accountId": "no spaces!"}})
    assert refused.status_code == 422
    assert await audit_of(named) == []


async def test_a_cancellation_is_recorded_and_so_is_each_refusal(named: RunningServer) -> None:
    async with client(named, OPS_KEY) as ops:
        slow = await run(ops, SLOW_REPORT, {"input": {"reportName": "r", "delaySeconds": 1}})
        queued = await run(ops, LOOKUP_ACCOUNT, {"input": {"accountId": "A-1"}})
        assert queued.json()["state"] == "queued"
        cancelled = await ops.post(queued.headers["location"] + "/cancel")
        sent = await ops.post(slow.headers["location"] + "/cancel")
        missing = await ops.post("/api/v1/action-runs/no-such-run/cancel")
        assert (cancelled.status_code, sent.status_code, missing.status_code) == (200, 409, 404)
        await finished(ops, slow.headers["location"])
    assert await audit_of(named, action="action_run_cancel") == [
        ("ops", "action_run_cancel", "no-such-run", "refused", "action_run_not_found"),
        ("ops", "action_run_cancel", slow.json()["id"], "refused", "action_run_not_cancellable"),
        ("ops", "action_run_cancel", queued.json()["id"], "completed", None),
    ]
