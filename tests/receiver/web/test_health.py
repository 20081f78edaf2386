import asyncio
from typing import Any

import httpx
import pytest

from receiver.app import create_app
from receiver.serving.server import running_server
from storage.migrations import head_revision
from tests.conftest import genesys_overrides, settings_for


async def test_healthz_answers_while_the_process_runs(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.json() == {"status": "ok"}


async def test_readyz_reports_the_migration_of_a_ready_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["migration"]) == ("ready", head_revision())
    # No Genesys credentials in these settings: said, and not a reason to be unready.
    assert body["genesys"] == {"state": "not_configured", "detail": None, "checkedAt": None}


async def test_readyz_says_what_is_wrong_with_an_unmigrated_database(
    empty_database_url: str,
) -> None:
    app = create_app(settings_for(empty_database_url))
    async with running_server(app) as server, httpx.AsyncClient(base_url=server.base_url) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "not_ready"
    assert "run `flowtrack migrate`" in response.json()["reason"]


async def _genesys_state(client: httpx.AsyncClient) -> dict[str, Any]:
    for _ in range(100):
        body: dict[str, Any] = (await client.get("/readyz")).json()
        if body["genesys"]["state"] != "checking":
            return body
        await asyncio.sleep(0.05)
    raise AssertionError("the Genesys check did not finish")


async def test_readyz_shows_that_genesys_accepted_the_oauth_client(
    database_url: str, sandbox: Any
) -> None:
    settings = settings_for(database_url, **genesys_overrides(sandbox.base_url))
    async with (
        running_server(create_app(settings)) as server,
        httpx.AsyncClient(base_url=server.base_url) as client,
    ):
        body = await _genesys_state(client)
    assert body["status"] == "ready"
    assert body["genesys"]["state"] == "accepted"
    assert body["genesys"]["checkedAt"] is not None


async def test_a_refused_secret_is_logged_and_shown_but_not_fatal(
    database_url: str, sandbox: Any, caplog: pytest.LogCaptureFixture
) -> None:
    overrides = genesys_overrides(sandbox.base_url) | {
        "FLOWTRACK_GENESYS_CLIENT_SECRET": "wrong-secret"
    }
    settings = settings_for(database_url, **overrides)
    async with (
        running_server(create_app(settings)) as server,
        httpx.AsyncClient(base_url=server.base_url) as client,
    ):
        response = await client.get("/readyz")
        body = await _genesys_state(client)
    assert response.status_code == 200
    assert body["status"] == "ready"
    assert body["genesys"]["state"] == "refused"
    assert "wrong-secret" not in str(body)
    refused = [
        r for r in caplog.records if getattr(r, "action", "") == "genesys.credentials_refused"
    ]
    assert len(refused) == 1
