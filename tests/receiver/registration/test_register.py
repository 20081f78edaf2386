"""Registration against the sandbox over real HTTP, serialised by real databases."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from receiver.genesys import (
    WEB_SERVICES_INTEGRATION_TYPE,
    ExecutionStatus,
    FlowExecution,
    GenesysClient,
    GenesysConfig,
)
from receiver.registration.register import RegistrationReport, register, register_on_startup
from receiver.registration.spec import ACTION_CONTRACT, ACTION_NAME, action_config
from receiver.serving.server import RunningServer, running_server
from sandbox.config import SandboxConfig
from sandbox.server import RunningSandbox, running_sandbox
from storage.audit import AuditFilter, AuditStore
from storage.engine import make_engine
from tests.conftest import CALLBACK_TOKEN, settings_for

CLIENT_SECRET = "sandbox-client-secret-4f9a1c"
NEW_TOKEN = "rotated-callback-token-9d8c7b6a"
FLOW_ID = "f1a00000-0000-4000-8000-0000000000aa"
FLOW = {
    "id": FLOW_ID,
    "name": "Two steps",
    "type": "workflow",
    "nodes": [
        {"id": "lookup", "type": "CallData", "name": "Look up", "duration_ms": 5, "next": "mail"},
        {"id": "mail", "type": "SendEmail", "name": "Notify", "duration_ms": 5},
    ],
}
FLOWTRACK = [sys.executable, "-m", "receiver", "register"]


@dataclass
class CallbackEndpoint:
    """Stands in for flowtrack's POST /webhooks/genesys: records calls, answers ``command``."""

    command: str = "continue"
    calls: list[tuple[dict[str, str], Any]] = field(default_factory=list)
    server: RunningServer | None = None

    @property
    def public_url(self) -> str:
        assert self.server is not None
        return self.server.base_url

    async def handle(self, request: Request) -> JSONResponse:
        self.calls.append((dict(request.headers), orjson.loads(await request.body())))
        return JSONResponse({"accepted": 1, "duplicates": 0, "command": self.command})

    def events(self, execution_id: str) -> list[str]:
        return [body["event"] for _, body in self.calls if body["flowExecutionId"] == execution_id]


@pytest.fixture
async def sandbox() -> AsyncIterator[RunningSandbox]:
    config = SandboxConfig(client_secret=CLIENT_SECRET, flows=[FLOW], seed=1)
    async with running_sandbox(config) as running:
        yield running


@pytest.fixture
async def endpoint() -> AsyncIterator[CallbackEndpoint]:
    target = CallbackEndpoint()
    app = Starlette(routes=[Route("/webhooks/genesys", target.handle, methods=["POST"])])
    async with running_server(app) as server:
        target.server = server
        yield target


@contextlib.asynccontextmanager
async def genesys_client(
    sandbox: RunningSandbox, secret: str = CLIENT_SECRET
) -> AsyncIterator[GenesysClient]:
    """A client of its own (own HTTP pool, own token), as another process would have."""
    config = GenesysConfig(
        client_id="sandbox",
        client_secret=secret,
        api_url=sandbox.base_url,
        login_url=sandbox.base_url,
        max_attempts=1,
    )
    async with httpx.AsyncClient() as http:
        yield GenesysClient(config, http)


@pytest.fixture
async def client(sandbox: RunningSandbox) -> AsyncIterator[GenesysClient]:
    async with genesys_client(sandbox) as built:
        yield built


def outcomes(report: RegistrationReport) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(change.kind, change.outcome, change.fields) for change in report.resources]


def ids(report: RegistrationReport) -> list[str]:
    return [change.id for change in report.resources]


async def registered(client: GenesysClient, sandbox: RunningSandbox) -> tuple[int, int, int]:
    """How many integrations, credentials and actions of flowtrack's exist, read back."""
    integrations = await client.integrations.list(integration_type=WEB_SERVICES_INTEGRATION_TYPE)
    actions = await client.actions.list(name=ACTION_NAME)
    # The flowtrack client lists no credentials (the sandbox lacks the listing endpoint).
    return (
        sum(i.name == "flowtrack" for i in integrations.entities),
        len(sandbox.state.integrations.credentials),
        sum(a.name == ACTION_NAME for a in actions.entities),
    )


async def run_flow(client: GenesysClient, launch_id: str) -> FlowExecution:
    launched = await client.launch_flow(FLOW_ID, input_data={"flowtrackLaunchId": launch_id})
    deadline = time.monotonic() + 5
    while True:
        execution = await client.get_execution(launched.id)
        if execution.status is not ExecutionStatus.RUNNING:
            return execution
        assert time.monotonic() < deadline, "the flow did not finish"
        await asyncio.sleep(0.02)


async def test_first_registration_creates_all_three_and_flows_then_call_back_with_the_token(
    database_url: str, engine: Engine, client: GenesysClient, endpoint: CallbackEndpoint
) -> None:
    settings = settings_for(database_url, FLOWTRACK_PUBLIC_URL=endpoint.public_url)

    report = await register(settings, client, engine=engine)

    assert outcomes(report) == [
        ("integration", "created", ()),
        ("credential", "created", ()),
        ("action", "created", ()),
    ]
    integration = await client.integrations.get(report.integration.id)
    assert (integration.integration_type, integration.intended_state) == (
        "custom-rest-actions",
        "ENABLED",
    )
    config = await client.integrations.get_config(report.integration.id)
    assert config.credentials["basicAuth"].id == report.credential.id
    action = await client.actions.get(report.action.id)
    assert action.integration_id == report.integration.id
    assert action.contract == ACTION_CONTRACT
    assert action.request_url_template == f"{endpoint.public_url}/webhooks/genesys"

    execution = await run_flow(client, "launch-1")

    assert execution.status is ExecutionStatus.COMPLETED
    assert endpoint.events(execution.id) == [
        "start",
        "node_enter",
        "node_exit",
        "node_enter",
        "node_exit",
        "complete",
    ]
    for headers, body in endpoint.calls:
        assert headers["authorization"] == f"Bearer {CALLBACK_TOKEN}"
        assert headers["content-type"] == "application/json"
        assert body["launchId"] == "launch-1"


async def test_flows_report_into_flowtrack_itself_through_the_registered_action(
    database_url: str,
    engine: Engine,
    client: GenesysClient,
    server: RunningServer,
    api: httpx.AsyncClient,
) -> None:
    settings = settings_for(database_url, FLOWTRACK_PUBLIC_URL=server.base_url)
    await register(settings, client, engine=engine)

    execution = await run_flow(client, "launch-real")

    assert execution.status is ExecutionStatus.COMPLETED
    listed = await api.get("/api/v1/events", params={"flowExecutionId": execution.id})
    events = listed.json()["items"]
    assert [event["kind"] for event in events] == [
        "start",
        "node_enter",
        "node_exit",
        "node_enter",
        "node_exit",
        "complete",
    ]
    assert {(event["source"], event["launchId"]) for event in events} == {
        ("data_action", "launch-real")
    }


async def test_a_stop_answer_reaches_the_flow_as_command_and_ends_it(
    database_url: str, engine: Engine, client: GenesysClient, endpoint: CallbackEndpoint
) -> None:
    await register(
        settings_for(database_url, FLOWTRACK_PUBLIC_URL=endpoint.public_url), client, engine=engine
    )
    endpoint.command = "stop"

    execution = await run_flow(client, "launch-2")

    assert execution.status is ExecutionStatus.TERMINATED
    assert endpoint.events(execution.id) == ["start"]


async def test_a_second_registration_reports_unchanged_and_creates_nothing(
    database_url: str, engine: Engine, sandbox: RunningSandbox, client: GenesysClient
) -> None:
    settings = settings_for(database_url, FLOWTRACK_PUBLIC_URL="https://flowtrack.example.com")
    first = await register(settings, client, engine=engine)
    version = (await client.actions.get(first.action.id)).version

    second = await register(settings, client, engine=engine)

    assert outcomes(second) == [
        ("integration", "unchanged", ()),
        ("credential", "unchanged", ()),
        ("action", "unchanged", ()),
    ]
    assert ids(second) == ids(first)
    assert second.warnings == ()
    assert await registered(client, sandbox) == (1, 1, 1)
    assert (await client.actions.get(first.action.id)).version == version


async def test_a_changed_public_url_updates_the_action_in_place(
    database_url: str, engine: Engine, sandbox: RunningSandbox, client: GenesysClient
) -> None:
    old = settings_for(database_url, FLOWTRACK_PUBLIC_URL="https://old.example.com")
    new = settings_for(database_url, FLOWTRACK_PUBLIC_URL="https://new.example.com/flowtrack")
    first = await register(old, client, engine=engine)

    second = await register(new, client, engine=engine)

    assert outcomes(second) == [
        ("integration", "unchanged", ()),
        ("credential", "unchanged", ()),
        ("action", "updated", ("requestUrlTemplate",)),
    ]
    assert ids(second) == ids(first)
    action = await client.actions.get(first.action.id)
    assert action.request_url_template == "https://new.example.com/flowtrack/webhooks/genesys"
    assert await registered(client, sandbox) == (1, 1, 1)


async def test_a_changed_token_updates_the_credential_in_place_and_flows_send_the_new_one(
    database_url: str,
    engine: Engine,
    sandbox: RunningSandbox,
    client: GenesysClient,
    endpoint: CallbackEndpoint,
) -> None:
    url = endpoint.public_url
    first = await register(
        settings_for(database_url, FLOWTRACK_PUBLIC_URL=url), client, engine=engine
    )
    # The first token is the one registered; the old one stays accepted while rotating.
    rotated = settings_for(
        database_url,
        FLOWTRACK_PUBLIC_URL=url,
        FLOWTRACK_CALLBACK_TOKENS=f"{NEW_TOKEN},{CALLBACK_TOKEN}",
    )

    second = await register(rotated, client, engine=engine)
    third = await register(rotated, client, engine=engine)

    assert outcomes(second) == [
        ("integration", "updated", ("token fingerprint",)),
        ("credential", "updated", ("token",)),
        ("action", "unchanged", ()),
    ]
    assert ids(second) == ids(first)
    assert [change.outcome for change in third.resources] == ["unchanged"] * 3
    assert await registered(client, sandbox) == (1, 1, 1)
    execution = await run_flow(client, "launch-3")
    assert {headers["authorization"] for headers, _ in endpoint.calls} == {f"Bearer {NEW_TOKEN}"}
    assert endpoint.events(execution.id)[-1] == "complete"
    # The fingerprint in the notes never gives the token away.
    config = await client.integrations.get_config(first.integration.id)
    assert NEW_TOKEN not in (config.notes or "")


async def test_a_disabled_integration_is_enabled_again(
    database_url: str, engine: Engine, client: GenesysClient
) -> None:
    settings = settings_for(database_url, FLOWTRACK_PUBLIC_URL="https://flowtrack.example.com")
    first = await register(settings, client, engine=engine)
    await client.integrations.update(first.integration.id, intended_state="DISABLED")

    second = await register(settings, client, engine=engine)

    assert outcomes(second)[0] == ("integration", "updated", ("intendedState",))
    assert (await client.integrations.get(first.integration.id)).intended_state == "ENABLED"


async def test_an_action_with_another_contract_is_kept_updated_and_reported(
    database_url: str, engine: Engine, sandbox: RunningSandbox, client: GenesysClient
) -> None:
    integration = await client.integrations.create(WEB_SERVICES_INTEGRATION_TYPE, name="flowtrack")
    old_contract = {
        "input": {"inputSchema": {"type": "object", "properties": {"event": {"type": "string"}}}},
        "output": {
            "successSchema": {"type": "object", "properties": {"accepted": {"type": "boolean"}}}
        },
    }
    old = await client.actions.create(
        name=ACTION_NAME,
        integration_id=integration.id,
        contract=old_contract,
        config=action_config("https://old.example.com/webhooks/genesys"),
        category="flowtrack",
    )
    settings = settings_for(database_url, FLOWTRACK_PUBLIC_URL="https://flowtrack.example.com")

    report = await register(settings, client, engine=engine)

    assert report.integration.id == integration.id
    assert (report.action.id, report.action.outcome) == (old.id, "updated")
    [warning] = report.warnings
    assert "contract differs" in warning
    assert "input launchId" in warning
    assert "output accepted" in warning
    assert "delete the action" in warning
    assert (await client.actions.get(old.id)).contract == old_contract
    assert await registered(client, sandbox) == (1, 1, 1)
    assert any(line.startswith("warning: the action's contract") for line in report.lines())


async def test_concurrent_registrations_leave_exactly_one_of_each(
    database_url: str, engine: Engine, sandbox: RunningSandbox, client: GenesysClient
) -> None:
    settings = settings_for(database_url, FLOWTRACK_PUBLIC_URL="https://flowtrack.example.com")
    other_engine = make_engine(database_url)
    try:
        async with genesys_client(sandbox) as other_client:
            reports = await asyncio.gather(
                register(settings, client, engine=engine),
                register(settings, other_client, engine=other_engine),
            )
    finally:
        other_engine.dispose()

    for kind in range(3):
        changes = [report.resources[kind] for report in reports]
        assert sorted(change.outcome for change in changes) == ["created", "unchanged"]
        assert changes[0].id == changes[1].id
    assert await registered(client, sandbox) == (1, 1, 1)


def registration_logs(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """The registration log records, as the JSON formatter would render their fields."""
    return [
        {"message": record.getMessage(), **record.__dict__}
        for record in caplog.records
        if record.name == "flowtrack.registration"
    ]


async def test_startup_registration_logs_the_report(
    database_url: str,
    engine: Engine,
    client: GenesysClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="flowtrack.registration")
    settings = settings_for(database_url, FLOWTRACK_PUBLIC_URL="https://flowtrack.example.com")

    report = await register_on_startup(settings, client, engine)

    assert report is not None
    assert [(log["action"], log.get("resource_id")) for log in registration_logs(caplog)] == [
        ("registration.created", report.integration.id),
        ("registration.created", report.credential.id),
        ("registration.created", report.action.id),
        ("registration.completed", None),
    ]


async def test_startup_registration_logs_genesys_errors_and_missing_settings_without_raising(
    database_url: str,
    engine: Engine,
    sandbox: RunningSandbox,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="flowtrack.registration")
    settings = settings_for(database_url, FLOWTRACK_PUBLIC_URL="https://flowtrack.example.com")

    async with genesys_client(sandbox, secret="wrong-secret-000000") as refused:
        assert await register_on_startup(settings, refused, engine) is None
    assert await register_on_startup(settings_for(database_url), None, engine) is None

    failed, skipped = registration_logs(caplog)
    assert failed["action"] == "registration.failed"
    assert failed["genesys_status"] == 401
    assert failed["correlation_id"]
    assert "correlation id" in failed["message"]
    assert "wrong-secret-000000" not in failed["message"]
    assert skipped["action"] == "registration.skipped"
    assert "FLOWTRACK_GENESYS_CLIENT_ID" in skipped["message"]
    assert "FLOWTRACK_PUBLIC_URL" in skipped["message"]
    assert "FLOWTRACK_CALLBACK_TOKENS" not in skipped["message"]


def command_environment(database_url: str, **variables: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWTRACK_")}
    env.update(FLOWTRACK_DATABASE_URL=database_url, FLOWTRACK_LOG_FORMAT="json", **variables)
    return env


async def run_command(env: dict[str, str]) -> tuple[int, str, str]:
    """``flowtrack register`` in a subprocess; awaited, so the in-loop sandbox keeps serving."""
    process = await asyncio.create_subprocess_exec(
        *FLOWTRACK, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


def genesys_variables(sandbox: RunningSandbox, secret: str = CLIENT_SECRET) -> dict[str, str]:
    return {
        "FLOWTRACK_GENESYS_CLIENT_ID": "sandbox",
        "FLOWTRACK_GENESYS_CLIENT_SECRET": secret,
        "FLOWTRACK_GENESYS_API_URL": sandbox.base_url,
        "FLOWTRACK_GENESYS_LOGIN_URL": sandbox.base_url,
    }


async def test_register_command_prints_one_line_per_resource(
    database_url: str, sandbox: RunningSandbox, client: GenesysClient
) -> None:
    env = command_environment(
        database_url,
        FLOWTRACK_PUBLIC_URL="https://flowtrack.example.com",
        FLOWTRACK_CALLBACK_TOKENS=CALLBACK_TOKEN,
        **genesys_variables(sandbox),
    )

    code, stdout, stderr = await run_command(env)

    assert code == 0, stderr
    lines = stdout.splitlines()
    assert [line.split()[:2] for line in lines] == [
        ["integration", "created"],
        ["credential", "created"],
        ["action", "created"],
        ["callback", "POST"],
    ]
    assert f"{ACTION_NAME} (id custom_-_" in lines[2]
    assert lines[3].endswith("https://flowtrack.example.com/webhooks/genesys")
    for secret in (CALLBACK_TOKEN, CLIENT_SECRET):
        assert secret not in stdout + stderr
    actions = [orjson.loads(line)["action"] for line in stderr.splitlines() if line.startswith("{")]
    assert "registration.completed" in actions
    assert await registered(client, sandbox) == (1, 1, 1)

    code, stdout, _ = await run_command(env)
    assert code == 0
    assert [line.split()[1] for line in stdout.splitlines()[:3]] == ["unchanged"] * 3


async def test_register_command_names_the_missing_variables_and_exits_1(tmp_path: Path) -> None:
    env = command_environment(
        f"sqlite:///{tmp_path / 'flowtrack.db'}", FLOWTRACK_PUBLIC_URL="https://x.example.com"
    )

    code, stdout, stderr = await run_command(env)

    assert (code, stdout) == (1, "")
    assert "FLOWTRACK_GENESYS_CLIENT_ID" in stderr
    assert "FLOWTRACK_CALLBACK_TOKENS" in stderr
    assert "FLOWTRACK_PUBLIC_URL" not in stderr


async def test_register_command_reports_a_genesys_refusal_with_status_and_correlation_id(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    env = command_environment(
        f"sqlite:///{tmp_path / 'flowtrack.db'}",
        FLOWTRACK_PUBLIC_URL="https://flowtrack.example.com",
        FLOWTRACK_CALLBACK_TOKENS=CALLBACK_TOKEN,
        **genesys_variables(sandbox, secret="wrong-secret-000000"),
    )

    code, stdout, stderr = await run_command(env)

    assert (code, stdout) == (1, "")
    [message] = [line for line in stderr.splitlines() if line.startswith("flowtrack: ")]
    assert "registration failed while looking up the integration" in message
    assert "401" in message
    assert "correlation id" in message
    assert "wrong-secret-000000" not in stderr
    assert CALLBACK_TOKEN not in stderr


async def test_registrations_are_recorded_in_the_audit_with_who_ran_them(
    database_url: str, engine: Engine, sandbox: RunningSandbox, client: GenesysClient
) -> None:
    settings = settings_for(database_url, FLOWTRACK_PUBLIC_URL="https://flowtrack.example.com")
    first = await register(settings, client, engine=engine)
    await register_on_startup(settings, client, engine)
    async with genesys_client(sandbox, secret="wrong-secret-000000") as refused:
        await register_on_startup(settings, refused, engine)

    records = await AuditStore(engine).list(AuditFilter(action="registration"))
    assert [(r["key_name"], r["target"], r["outcome"]) for r in records] == [
        ("flowtrack:startup", None, "failed"),
        ("flowtrack:startup", first.action.id, "completed"),
        ("flowtrack:register", first.action.id, "completed"),
    ]
    assert records[2]["detail"] == "integration created, credential created, action created"
    assert records[1]["detail"] == ("integration unchanged, credential unchanged, action unchanged")
    assert records[0]["detail"].startswith("registration_failed: status 401")
