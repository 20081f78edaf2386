import logging

import httpx
import pytest

from receiver.app import create_app
from receiver.serving.server import running_server
from storage.engine import make_engine
from storage.migrations import upgrade
from tests.conftest import settings_for


def with_password(url: str) -> str:
    # PostgreSQL here trusts every login: the password is only there to be hidden.
    return url.replace("postgresql://postgres@", "postgresql://postgres:hunter2@")


def changes(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if getattr(r, "action", None) in ("app.ready", "app.not_ready")
    ]


async def test_readiness_is_logged_once_each_way_naming_the_database_without_its_password(
    empty_database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    url = with_password(empty_database_url)
    app = create_app(settings_for(url))
    async with running_server(app) as server, httpx.AsyncClient(base_url=server.base_url) as http:
        for _ in range(3):
            assert (await http.get("/readyz")).status_code == 503
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        for _ in range(3):
            assert (await http.get("/readyz")).status_code == 200
    not_ready, ready = changes(caplog)
    assert (not_ready.action, ready.action) == ("app.not_ready", "app.ready")  # type: ignore[attr-defined]
    assert "flowtrack migrate" in not_ready.getMessage()
    assert ready.database == not_ready.database  # type: ignore[attr-defined]
    assert "hunter2" not in caplog.text
    assert ready.migration  # type: ignore[attr-defined]
