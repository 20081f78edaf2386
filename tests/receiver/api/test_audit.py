import hashlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from receiver.app import create_app
from receiver.serving.server import RunningServer, running_server
from tests.conftest import FLOW_HANGS, READ_KEY, WRITE_KEY, genesys_overrides, settings_for

OPS_KEY = "ops-key-0123456789abcdef"
BOT_KEY = "bot-read-key-0123456789"
BARE_NAME = "key-" + hashlib.sha256(WRITE_KEY.encode()).hexdigest()[:8]


@pytest.fixture
async def named(database_url: str, sandbox: Any) -> AsyncIterator[RunningServer]:
    """flowtrack launching through the sandbox, with a named write key and a bare one."""
    settings = settings_for(
        database_url,
        FLOWTRACK_API_KEYS=f"ops:{OPS_KEY},{WRITE_KEY}",
        FLOWTRACK_API_READ_KEYS=f"deploy-bot:{BOT_KEY},{READ_KEY}",
        FLOWTRACK_SWEEP_ENABLED="0",
        **genesys_overrides(sandbox.base_url),
    )
    async with running_server(create_app(settings)) as running:
        yield running


def client(server: RunningServer, key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=20
    )


async def test_the_audit_records_a_named_keys_launch_and_terminate_with_its_reason(
    named: RunningServer,
) -> None:
    async with client(named, OPS_KEY) as ops, client(named, BOT_KEY) as bot:
        launched = await ops.post(
            "/api/v1/launches", json={"flowId": FLOW_HANGS}, headers={"X-Request-Id": "req-1"}
        )
        launch_id = launched.json()["id"]
        ended = await ops.post(
            f"/api/v1/launches/{launch_id}/terminate", json={"reason": "stuck in a loop"}
        )
        assert (launched.status_code, ended.status_code) == (201, 200)
        audit = await bot.get("/api/v1/audit")
    assert audit.status_code == 200
    records = audit.json()["items"]
    assert [
        (r["keyName"], r["action"], r["target"], r["outcome"], r["detail"]) for r in records
    ] == [
        ("ops", "terminate", launch_id, "requested", "stuck in a loop"),
        ("ops", "launch", launch_id, "created", None),
    ]
    assert records[1]["requestId"] == "req-1"
    assert records[0]["at"] >= records[1]["at"]


async def test_a_bare_key_is_recorded_by_its_fingerprint_with_replays_and_refusals(
    named: RunningServer,
) -> None:
    key = {"Idempotency-Key": "order-1"}
    async with client(named, WRITE_KEY) as api:
        first = await api.post("/api/v1/launches", json={"flowId": FLOW_HANGS}, headers=key)
        await api.post("/api/v1/launches", json={"flowId": FLOW_HANGS}, headers=key)
        await api.post("/api/v1/launches", json={"flowId": FLOW_HANGS, "name": "x"}, headers=key)
        records = (await api.get("/api/v1/audit", params={"keyName": BARE_NAME})).json()["items"]
    launch_id = first.json()["id"]
    assert [(r["action"], r["target"], r["outcome"], r["detail"]) for r in records] == [
        ("launch", launch_id, "refused", "idempotency_key_reused"),
        ("launch", launch_id, "replayed", None),
        ("launch", launch_id, "created", None),
    ]


async def test_the_audit_is_filtered_and_paged_and_needs_a_key(named: RunningServer) -> None:
    async with client(named, OPS_KEY) as ops:
        ids = [
            (await ops.post("/api/v1/launches", json={"flowId": FLOW_HANGS})).json()["id"]
            for _ in range(3)
        ]
        await ops.post(f"/api/v1/launches/{ids[0]}/terminate")
        launches = {"action": "launch", "keyName": "ops"}
        page = (await ops.get("/api/v1/audit", params={**launches, "limit": "2"})).json()
        rest = (
            await ops.get("/api/v1/audit", params={**launches, "cursor": page["nextCursor"]})
        ).json()
        about = (await ops.get("/api/v1/audit", params={"target": ids[0]})).json()["items"]
        bad = await ops.get("/api/v1/audit", params={"action": "dance"})
    assert [r["target"] for r in page["items"] + rest["items"]] == ids[::-1]
    assert rest["nextCursor"] is None
    assert [r["action"] for r in about] == ["terminate", "launch"]
    assert bad.status_code == 400
    async with httpx.AsyncClient(base_url=named.base_url) as anonymous:
        assert (await anonymous.get("/api/v1/audit")).status_code == 401
