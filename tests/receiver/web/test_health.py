import httpx

from receiver.app import create_app
from receiver.serving.server import running_server
from storage.migrations import head_revision
from tests.conftest import settings_for


async def test_healthz_answers_while_the_process_runs(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.json() == {"status": "ok"}


async def test_readyz_reports_the_migration_of_a_ready_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "migration": head_revision()}


async def test_readyz_says_what_is_wrong_with_an_unmigrated_database(
    empty_database_url: str,
) -> None:
    app = create_app(settings_for(empty_database_url))
    async with running_server(app) as server, httpx.AsyncClient(base_url=server.base_url) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "not_ready"
    assert "run `flowtrack migrate`" in response.json()["reason"]
