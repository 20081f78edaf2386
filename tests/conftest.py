"""Fixtures that build real things: migrated databases, a served app, HTTP clients.

Every test gets its own fresh database on SQLite and on PostgreSQL. The schema comes
from the Alembic migrations, run once per session into a template that each test's
database is copied from. Without a reachable PostgreSQL the PostgreSQL variants skip
with a clear message, except under CI (``CI`` set), where that is a failure.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import sql
from sqlalchemy import Engine

from receiver.app import create_app
from receiver.serving.server import RunningServer, running_server
from receiver.settings import Settings
from storage.engine import make_engine
from storage.migrations import upgrade

POSTGRES_URL = os.environ.get(
    "FLOWTRACK_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
CALLBACK_TOKEN = "test-callback-token-0123456789"
SECRET_KEY = b"0123456789abcdef0123456789abcdef"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(SECRET_KEY).decode()
WRITE_KEY = "test-write-key-0123456789"
READ_KEY = "test-read-key-0123456789"

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


#: How tests start the ``flowtrack`` command in a child process.
FLOWTRACK = [sys.executable, "-m", "receiver"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _postgres_admin() -> psycopg.Connection:
    try:
        return psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        message = (
            f"PostgreSQL is not reachable at {POSTGRES_URL} ({exc.__class__.__name__}); "
            "start it or point FLOWTRACK_TEST_POSTGRES_URL at a server"
        )
        if os.environ.get("CI"):
            pytest.fail(message + " — CI requires PostgreSQL", pytrace=False)
        pytest.skip(message)


def _database_url(name: str) -> str:
    return POSTGRES_URL.rsplit("/", 1)[0] + "/" + name


def _create_database(name: str, template: str | None = None) -> None:
    with _postgres_admin() as admin:
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            statement = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        admin.execute(statement)


def _drop_database(name: str) -> None:
    with _postgres_admin() as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "flowtrack.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    name = f"flowtrack_template_{uuid.uuid4().hex[:12]}"
    _create_database(name)
    engine = make_engine(_database_url(name))
    upgrade(engine)
    engine.dispose()
    yield name
    _drop_database(name)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database, migrated to head, for this test only."""
    if request.param == "sqlite":
        path = tmp_path / "flowtrack.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    template = request.getfixturevalue("postgres_template")
    name = f"flowtrack_test_{uuid.uuid4().hex[:12]}"
    _create_database(name, template)
    yield _database_url(name)
    _drop_database(name)


@pytest.fixture(params=BACKENDS)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database with no schema at all."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    _postgres_admin().close()
    name = f"flowtrack_empty_{uuid.uuid4().hex[:12]}"
    _create_database(name)
    yield _database_url(name)
    _drop_database(name)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def settings_for(database_url: str, **overrides: str) -> Settings:
    """Settings as a deployment would set them, plus ``overrides`` (FLOWTRACK_ names)."""
    environ = {
        "FLOWTRACK_DATABASE_URL": database_url,
        "FLOWTRACK_CALLBACK_TOKENS": CALLBACK_TOKEN,
        "FLOWTRACK_WEBHOOK_SECRETS": WEBHOOK_SECRET,
        "FLOWTRACK_API_KEYS": WRITE_KEY,
        "FLOWTRACK_API_READ_KEYS": READ_KEY,
        # Tests are not about power loss; NORMAL keeps SQLite commits cheap here.
        "FLOWTRACK_SQLITE_SYNCHRONOUS": "normal",
    }
    environ.update(overrides)
    return Settings.from_env(environ)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return settings_for(database_url)


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[RunningServer]:
    """flowtrack itself, served over real HTTP on a free port."""
    async with running_server(create_app(settings)) as running:
        yield running


@pytest.fixture
async def client(server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the served app that sends the callback token."""
    async with httpx.AsyncClient(
        base_url=server.base_url,
        headers={"Authorization": f"Bearer {CALLBACK_TOKEN}"},
        timeout=10,
    ) as http:
        yield http


@pytest.fixture
async def api(server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the REST API, with the read-write key."""
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {WRITE_KEY}"}, timeout=10
    ) as http:
        yield http


# -- the sandbox standing in for Genesys ------------------------------------------------

FLOW_OK = "aaaaaaaa-0000-4000-8000-000000000001"
FLOW_FAILS = "aaaaaaaa-0000-4000-8000-000000000002"
FLOW_HANGS = "aaaaaaaa-0000-4000-8000-000000000003"
FLOW_CALL = "aaaaaaaa-0000-4000-8000-000000000004"
FLOW_SLOW = "aaaaaaaa-0000-4000-8000-000000000005"

TEST_FLOWS: list[dict[str, object]] = [
    {
        "id": FLOW_OK,
        "name": "Completes",
        "type": "workflow",
        "nodes": [
            {
                "id": "prepare",
                "type": "Task",
                "name": "Prepare",
                "duration_ms": 20,
                "next": "lookup",
            },
            {
                "id": "lookup",
                "type": "CallData",
                "name": "Look up",
                "duration_ms": 20,
                "next": "notify",
            },
            {"id": "notify", "type": "SendEmail", "name": "Notify", "duration_ms": 20},
        ],
    },
    {
        "id": FLOW_FAILS,
        "name": "Fails at push",
        "type": "workflow",
        "nodes": [
            {"id": "fetch", "type": "CallData", "name": "Fetch", "duration_ms": 20, "next": "push"},
            {
                "id": "push",
                "type": "CallData",
                "name": "Push",
                "duration_ms": 20,
                "error_probability": 1.0,
                "error_code": "DATA_ACTION_FAILED",
            },
        ],
    },
    {
        "id": FLOW_HANGS,
        "name": "Hangs at wait",
        "type": "workflow",
        "nodes": [
            {"id": "request", "type": "Task", "name": "Request", "duration_ms": 20, "next": "wait"},
            {
                "id": "wait",
                "type": "Wait",
                "name": "Wait",
                "duration_ms": 20,
                "hang_probability": 1.0,
            },
        ],
    },
    {
        "id": FLOW_CALL,
        "name": "Calls the customer",
        "type": "workflow",
        "conversation": True,
        "nodes": [
            {"id": "dial", "type": "Task", "name": "Dial", "duration_ms": 20, "next": "talk"},
            {
                "id": "talk",
                "type": "PlayAudio",
                "name": "Talk",
                "duration_ms": 20,
                "hang_probability": 1.0,
            },
        ],
    },
    {
        "id": FLOW_SLOW,
        "name": "Many slow steps",
        "type": "workflow",
        "nodes": [
            {
                "id": f"step-{n}",
                "type": "Task",
                "name": f"Step {n}",
                "duration_ms": 300,
                **({"next": f"step-{n + 1}"} if n < 19 else {}),
            }
            for n in range(20)
        ],
    },
]


@pytest.fixture
async def sandbox() -> AsyncIterator[Any]:
    """The Genesys sandbox with the test flows, on a free port."""
    from sandbox.config import SandboxConfig
    from sandbox.server import running_sandbox

    config = SandboxConfig(flows=TEST_FLOWS, seed=7, disconnect_delay_seconds=0.05)
    async with running_sandbox(config) as running:
        yield running


def genesys_overrides(base_url: str) -> dict[str, str]:
    """FLOWTRACK_GENESYS_* settings that point flowtrack at a sandbox."""
    return {
        "FLOWTRACK_GENESYS_CLIENT_ID": "sandbox",
        "FLOWTRACK_GENESYS_CLIENT_SECRET": "sandbox",
        "FLOWTRACK_GENESYS_API_URL": base_url,
        "FLOWTRACK_GENESYS_LOGIN_URL": base_url,
    }


@pytest.fixture
async def launcher(database_url: str, sandbox: Any) -> AsyncIterator[tuple[RunningServer, Any]]:
    """flowtrack configured to launch through the sandbox, and the running app."""
    app = create_app(settings_for(database_url, **genesys_overrides(sandbox.base_url)))
    async with running_server(app) as running:
        yield running, app


@pytest.fixture
async def launch_api(
    launcher: tuple[RunningServer, Any],
) -> AsyncIterator[httpx.AsyncClient]:
    """A write-key client for the launching flowtrack."""
    async with httpx.AsyncClient(
        base_url=launcher[0].base_url, headers={"Authorization": f"Bearer {WRITE_KEY}"}, timeout=20
    ) as http:
        yield http


# -- data action runs (#13): the sandbox's sample actions --------------------------------

LOOKUP_ACCOUNT = "custom_-_5a9b7c3d-0000-4000-8000-0000000a0001"
SLOW_REPORT = "custom_-_5a9b7c3d-0000-4000-8000-0000000a0002"
FLAKY_LOOKUP = "custom_-_5a9b7c3d-0000-4000-8000-0000000a0003"


def action_settings(database_url: str, sandbox_url: str, **overrides: str) -> Settings:
    """flowtrack pointed at a sandbox, with Genesys retries quick enough for tests."""
    import dataclasses

    settings = settings_for(database_url, **genesys_overrides(sandbox_url), **overrides)
    assert settings.genesys is not None
    quick = dataclasses.replace(
        settings.genesys, backoff_base_seconds=0.02, backoff_max_seconds=0.1
    )
    return dataclasses.replace(settings, genesys=quick)


@pytest.fixture
async def action_sandbox() -> AsyncIterator[Any]:
    """The sandbox with its sample data actions and their stub service."""
    from sandbox.config import SandboxConfig
    from sandbox.server import running_sandbox

    async with running_sandbox(SandboxConfig(seed=7, sample_actions=True)) as running:
        yield running


@pytest.fixture
async def action_server(database_url: str, action_sandbox: Any) -> AsyncIterator[RunningServer]:
    """flowtrack executing data actions through the sandbox."""
    app = create_app(action_settings(database_url, action_sandbox.base_url))
    async with running_server(app) as running:
        yield running


@pytest.fixture
async def action_api(action_server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    """A write-key client for the flowtrack that executes data actions."""
    async with httpx.AsyncClient(
        base_url=action_server.base_url,
        headers={"Authorization": f"Bearer {WRITE_KEY}"},
        timeout=30,
    ) as http:
        yield http


async def sandbox_executions(sandbox: Any, action_id: str) -> dict[str, Any]:
    """What the sandbox did for one action: ``executed``, ``tested``, ``outcomes``."""
    async with httpx.AsyncClient(base_url=sandbox.base_url) as control:
        found = await control.get("/sandbox/actions/executions", params={"actionId": action_id})
    counts: dict[str, Any] = found.json()["actions"][action_id]
    return counts
