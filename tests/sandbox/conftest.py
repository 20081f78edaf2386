"""Fixtures that build real things: a served sandbox, a callback receiver, API clients."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.config import SandboxConfig
from sandbox.server import RunningSandbox, running_sandbox, serving
from tests.polling import poll_until as poll_until  # re-exported: tests import it from here
from tests.polling import wait_for as wait_for  # re-exported likewise

LINEAR = "f1a00000-0000-4000-8000-000000000001"
CONVERSATION = "f1a00000-0000-4000-8000-000000000002"
HANGING_CALL = "f1a00000-0000-4000-8000-000000000003"
HANGING_WORKFLOW = "f1a00000-0000-4000-8000-000000000004"
FAILING = "f1a00000-0000-4000-8000-000000000005"
RECOVERING = "f1a00000-0000-4000-8000-000000000006"
IVR = "f1a00000-0000-4000-8000-000000000007"
NAMED_ACTION = "f1a00000-0000-4000-8000-000000000008"

TEST_FLOWS: list[dict[str, Any]] = [
    {
        "id": LINEAR,
        "name": "Linear workflow",
        "type": "workflow",
        "output_data": {"Flow.result": "ok"},
        "nodes": [
            {"id": "a", "type": "Task", "name": "Start task", "duration_ms": 20, "next": "b"},
            {
                "id": "b",
                "type": "CallData",
                "name": "Look up",
                "duration_ms": 20,
                "paths": [{"name": "found", "to": "c"}],
            },
            {"id": "c", "type": "SendEmail", "name": "Notify", "duration_ms": 20},
        ],
    },
    {
        "id": CONVERSATION,
        "name": "Conversation workflow",
        "type": "workflow",
        "conversation": True,
        "nodes": [
            {"id": "greet", "type": "PlayAudio", "duration_ms": 20, "next": "bye"},
            {"id": "bye", "type": "Disconnect", "duration_ms": 10},
        ],
    },
    {
        "id": HANGING_CALL,
        "name": "Hanging call",
        "type": "workflow",
        "conversation": True,
        "nodes": [{"id": "wait", "type": "Wait", "hang_probability": 1.0}],
    },
    {
        "id": HANGING_WORKFLOW,
        "name": "Hanging workflow",
        "type": "workflow",
        "nodes": [{"id": "wait", "type": "Wait", "hang_probability": 1.0}],
    },
    {
        "id": FAILING,
        "name": "Failing workflow",
        "type": "workflow",
        "nodes": [
            {"id": "push", "type": "CallData", "error_probability": 1.0, "error_code": "BOOM"}
        ],
    },
    {
        "id": RECOVERING,
        "name": "Recovering workflow",
        "type": "workflow",
        "nodes": [
            {"id": "push", "error_probability": 1.0, "on_error": "cleanup", "next": "never"},
            {"id": "never", "duration_ms": 10},
            {"id": "cleanup", "type": "UpdateData", "duration_ms": 10},
        ],
    },
    {
        "id": NAMED_ACTION,
        "name": "Workflow calling one named action",
        "type": "workflow",
        "data_action": "flowtrack — report flow event",
        "nodes": [{"id": "only", "duration_ms": 10}],
    },
    {
        "id": IVR,
        "name": "Main IVR",
        "type": "inboundcall",
        "nodes": [{"id": "menu", "type": "Menu", "duration_ms": 20}],
    },
]


def make_config(**overrides: Any) -> SandboxConfig:
    """The test sandbox: the flows above, fast clocks, a fixed seed."""
    settings: dict[str, Any] = {
        "flows": TEST_FLOWS,
        "time_scale": 0.5,
        "seed": 7,
        "heartbeat_seconds": 0.2,
        "disconnect_delay_seconds": 0.05,
        "eventbridge_retry_seconds": 0.02,
    }
    settings.update(overrides)
    return SandboxConfig(**settings)


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class CallbackReceiver:
    """A tiny HTTP endpoint standing in for flowtrack: records posts, answers as told."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    #: Decides the answer to each request: (status, JSON body or raw bytes, delay seconds).
    answer: Callable[[Received], tuple[int, Any, float]] = lambda _: (
        200,
        {"command": "continue"},
        0.0,
    )

    def events(self, execution_id: str | None = None) -> list[dict[str, Any]]:
        bodies = [r.body for r in self.requests if isinstance(r.body, dict) and "event" in r.body]
        if execution_id is None:
            return bodies
        return [b for b in bodies if b.get("flowExecutionId") == execution_id]

    async def handle(self, request: Request) -> Response:
        raw = await request.body()
        received = Received(
            request.method,
            request.url.path,
            dict(request.headers),
            orjson.loads(raw) if raw else None,
        )
        self.requests.append(received)
        status, body, delay = self.answer(received)
        if delay:
            await asyncio.sleep(delay)
        content = body if isinstance(body, bytes) else orjson.dumps(body)
        return Response(content, status_code=status, media_type="application/json")


@pytest.fixture
async def receiver() -> AsyncIterator[CallbackReceiver]:
    target = CallbackReceiver()
    app = Starlette(routes=[Route("/{path:path}", target.handle, methods=["POST", "PUT"])])
    async with serving(app) as port:
        target.url = f"http://127.0.0.1:{port}"
        yield target


@pytest.fixture
async def sandbox() -> AsyncIterator[RunningSandbox]:
    async with running_sandbox(make_config()) as running:
        yield running


CLIENT_CREDENTIALS = ("sandbox", "sandbox")


async def token_for(base_url: str) -> str:
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post(
            "/oauth/token", auth=CLIENT_CREDENTIALS, data={"grant_type": "client_credentials"}
        )
        response.raise_for_status()
        token: str = response.json()["access_token"]
        return token


@asynccontextmanager
async def authorized(sandbox: RunningSandbox, **options: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client (``options`` passed on) on ``sandbox`` with a fresh token."""
    token = await token_for(sandbox.base_url)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=sandbox.base_url, headers=headers, **options) as client:
        yield client


@asynccontextmanager
async def sandbox_client(config: SandboxConfig, **options: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A sandbox running ``config``, and an authorized client on it."""
    async with running_sandbox(config) as running, authorized(running, **options) as client:
        yield client


@pytest.fixture
async def api(sandbox: RunningSandbox) -> AsyncIterator[httpx.AsyncClient]:
    """An authenticated httpx client on the sandbox."""
    async with authorized(sandbox) as client:
        yield client


async def configured_integration(
    api: httpx.AsyncClient,
    name: str,
    credential: dict[str, Any],
    *,
    slot: str,
    **config: Any,
) -> str:
    """A custom-rest-actions integration whose current config (``name``, ``config``) holds a
    new userDefined ``credential`` in ``slot``; its id."""
    created = await api.post(
        "/api/v2/integrations/credentials", json={**credential, "type": {"name": "userDefined"}}
    )
    integration = await api.post(
        "/api/v2/integrations", json={"integrationType": {"id": "custom-rest-actions"}}
    )
    integration_id: str = integration.json()["id"]
    configured = await api.put(
        f"/api/v2/integrations/{integration_id}/config/current",
        json={
            "name": name,
            "version": 1,
            **config,
            "credentials": {slot: {"id": created.json()["id"]}},
        },
    )
    assert configured.status_code == 200, configured.text
    return integration_id


async def register_callback_action(
    api: httpx.AsyncClient,
    url: str,
    *,
    timeout_seconds: int = 5,
    enable: bool = True,
    name: str = "flowtrack — report flow event",
    path: str = "/hooks/genesys",
) -> dict[str, Any]:
    """Register flowtrack the way design.md §3 says: integration, credential, action."""
    integration_id = await configured_integration(
        api,
        "flowtrack",
        {"name": "flowtrack callback token", "credentialFields": {"token": "s3cret-token"}},
        slot="basicAuth",
        properties={},
        advanced={},
    )
    if enable:
        patched = await api.patch(
            f"/api/v2/integrations/{integration_id}", json={"intendedState": "ENABLED"}
        )
        assert patched.status_code == 200, patched.text
    action = await api.post(
        "/api/v2/integrations/actions",
        json={
            "name": name,
            "integrationId": integration_id,
            "category": "flowtrack",
            "secure": False,
            "contract": {
                "input": {
                    "inputSchema": {"type": "object", "properties": {"event": {"type": "string"}}}
                },
                "output": {
                    "successSchema": {
                        "type": "object",
                        "properties": {"command": {"type": "string"}},
                    }
                },
            },
            "config": {
                "timeoutSeconds": timeout_seconds,
                "request": {
                    "requestUrlTemplate": f"{url}{path}",
                    "requestType": "POST",
                    "headers": {
                        "Content-Type": "application/json",
                        "X-Flowtrack-Token": "${credentials.token}",
                    },
                    "requestTemplate": "${input.rawRequest}",
                },
                "response": {
                    "translationMap": {"command": "$.command"},
                    "translationMapDefaults": {"command": '"continue"'},
                    "successTemplate": '{"command": ${command}}',
                },
            },
        },
    )
    assert action.status_code == 200, action.text
    document: dict[str, Any] = action.json()
    return document


async def launch(api: httpx.AsyncClient, flow_id: str, **input_data: Any) -> dict[str, Any]:
    response = await api.post(
        "/api/v2/flows/executions", json={"flowId": flow_id, "inputData": input_data}
    )
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


async def execution_status(api: httpx.AsyncClient, execution_id: str) -> dict[str, Any]:
    document: dict[str, Any] = (await api.get(f"/api/v2/flows/executions/{execution_id}")).json()
    return document


async def finished(
    api: httpx.AsyncClient, execution_id: str, within: float = 5.0
) -> dict[str, Any]:
    """Poll the execution until it leaves RUNNING."""
    document: dict[str, Any] = await poll_until(
        lambda: execution_status(api, execution_id),
        lambda d: d["status"] != "RUNNING",
        within,
    )
    return document
