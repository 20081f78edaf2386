"""The sandbox really emits messages shaped like the recorded examples in ``payloads/``.

Each recorded file is one message as it went over the wire. The test replays the
scenario that produced them and compares shapes: the same keys at every level and the
same JSON types (values differ: ids and times are fresh). Notification bodies are also
deserialised into the official SDK's models, whose enum setters flag unknown values.

Set ``FLOWTRACK_RECORD_PAYLOADS=1`` to rewrite the files from a fresh run.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import PureCloudPlatformClientV2 as gc
import pytest
from websockets.asyncio.client import connect

from sandbox.server import RunningSandbox, running_sandbox
from tests.sandbox.conftest import (
    CallbackReceiver,
    make_config,
    register_callback_action,
    token_for,
    wait_for,
)

PAYLOADS = Path(__file__).parent / "payloads"
RECORDED_FLOW = "7d2a3b1e-5c0f-4f6e-9a41-2b8e0c9d1f37"
FLOWS = [
    {
        "id": RECORDED_FLOW,
        "name": "Order follow-up call",
        "type": "workflow",
        "conversation": True,
        "nodes": [
            {
                "id": "act-lookup",
                "type": "CallData",
                "name": "Look up order",
                "duration_ms": 150,
                "next": "act-notify",
            },
            {
                "id": "act-notify",
                "type": "CallData",
                "name": "Notify customer",
                "duration_ms": 50,
                "error_probability": 1.0,
                "error_code": "DATA_ACTION_FAILED",
                "on_error": "act-log",
            },
            {
                "id": "act-log",
                "type": "UpdateData",
                "name": "Log the failure",
                "duration_ms": 20,
                "outcome": "FAILURE",
            },
        ],
    }
]
SDK_MODELS = {
    "notification-flow-start.json": "FlowStartDetailEventTopicFlowStartEvent",
    "notification-flow-end.json": "FlowEndDetailEventTopicFlowEndEvent",
    "notification-flow-outcome.json": "FlowOutcomeDetailEventTopicFlowOutcomeEvent",
    "notification-flow-execution-history.json": (
        "V2FlowExecutionDataFlowidTopicFlowExecutionHistory"
    ),
}


def shape(value: Any) -> Any:
    """Keys and JSON types, recursively; a list is described by its first element."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in sorted(value.items())}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def kind(frame: dict[str, Any]) -> str:
    topic: str = frame["topicName"]
    if topic == "channel.metadata":
        return "heartbeat" if frame["eventBody"]["message"] == "WebSocket Heartbeat" else "pong"
    if topic.endswith(".flow.end"):
        return "flow.end"
    if topic.endswith(".flow.outcome"):
        return "flow.outcome"
    return "history" if topic.startswith("v2.flows.instances.") else topic


@pytest.fixture
async def recorded_run(receiver: CallbackReceiver) -> AsyncIterator[dict[str, Any]]:
    """Run the recorded scenario once; every message kind it emitted, by file name."""
    config = make_config(
        flows=FLOWS, time_scale=1.0, heartbeat_seconds=0.1, eventbridge_url=f"{receiver.url}/eb"
    )
    async with running_sandbox(config) as sandbox:
        yield await capture(sandbox, receiver)


async def capture(sandbox: RunningSandbox, receiver: CallbackReceiver) -> dict[str, Any]:
    token = await token_for(sandbox.base_url)
    async with httpx.AsyncClient(
        base_url=sandbox.base_url, headers={"Authorization": f"Bearer {token}"}
    ) as api:
        await register_callback_action(api, receiver.url)
        channel = (await api.post("/api/v2/notifications/channels")).json()
        async with connect(channel["connectUri"]) as socket:
            launched = (
                await api.post(
                    "/api/v2/flows/executions",
                    json={"flowId": RECORDED_FLOW, "inputData": {"flowtrackLaunchId": "launch-42"}},
                )
            ).json()
            status = (await api.get(f"/api/v2/flows/executions/{launched['id']}")).json()
            conversation_id = status["conversation"]["id"]
            await api.put(
                f"/api/v2/notifications/channels/{channel['id']}/subscriptions",
                json=[
                    {"id": f"v2.detail.events.conversation.{conversation_id}.flow.end"},
                    {"id": f"v2.detail.events.conversation.{conversation_id}.flow.outcome"},
                    {"id": f"v2.flows.instances.flow.{RECORDED_FLOW}"},
                ],
            )
            await socket.send('{"message":"ping"}')
            frames: dict[str, Any] = {}
            async with asyncio.timeout(5):
                while len(frames) < 5:
                    frame = orjson.loads(await socket.recv())
                    frames.setdefault(kind(frame), frame)
                await api.post(f"/sandbox/channels/{channel['id']}/socket-closing")
                while "v2.system.socket_closing" not in frames:
                    frame = orjson.loads(await socket.recv())
                    frames.setdefault(kind(frame), frame)
    await wait_for(lambda: len([r for r in receiver.requests if r.path == "/eb"]) >= 3)
    envelopes = {r.body["detail-type"]: r.body for r in receiver.requests if r.path == "/eb"}
    callbacks = receiver.events(launched["id"])
    return {
        "data-action-callback.json": next(c for c in callbacks if c["event"] == "node_exit"),
        "data-action-callback-error.json": next(c for c in callbacks if c["event"] == "error"),
        "notification-flow-start.json": envelopes["v2.detail.events.conversation.{id}.flow.start"][
            "detail"
        ],
        "notification-flow-end.json": frames["flow.end"],
        "notification-flow-outcome.json": frames["flow.outcome"],
        "notification-flow-execution-history.json": frames["history"],
        "channel-metadata-heartbeat.json": frames["heartbeat"],
        "channel-metadata-pong.json": frames["pong"],
        "system-socket-closing.json": frames["v2.system.socket_closing"],
        "eventbridge-envelope.json": envelopes["v2.detail.events.conversation.{id}.flow.end"],
        "_all_callbacks": callbacks,
    }


async def test_emitted_messages_match_the_recorded_payloads(recorded_run: dict[str, Any]) -> None:
    if os.environ.get("FLOWTRACK_RECORD_PAYLOADS") == "1":
        for name, message in recorded_run.items():
            if not name.startswith("_"):
                (PAYLOADS / name).write_bytes(
                    orjson.dumps(message, option=orjson.OPT_INDENT_2) + b"\n"
                )

    recorded_files = sorted(p.name for p in PAYLOADS.glob("*.json"))
    assert recorded_files == sorted(n for n in recorded_run if not n.startswith("_"))
    for name in recorded_files:
        recorded = orjson.loads((PAYLOADS / name).read_bytes())
        assert shape(recorded_run[name]) == shape(recorded), name
    callback_keys = set(orjson.loads((PAYLOADS / "data-action-callback.json").read_bytes()))
    assert all(set(c) == callback_keys for c in recorded_run["_all_callbacks"])


class _Wire:
    """Just enough of an SDK REST response for ``ApiClient.deserialize``."""

    def __init__(self, document: Any) -> None:
        self.data = orjson.dumps(document).decode()

    def getheader(self, name: str, default: str | None = None) -> str:
        return "application/json"


@pytest.mark.parametrize("name", sorted(SDK_MODELS))
def test_recorded_notification_bodies_deserialise_into_sdk_models(name: str) -> None:
    frame = orjson.loads((PAYLOADS / name).read_bytes())

    body = gc.ApiClient().deserialize(_Wire(frame["eventBody"]), SDK_MODELS[name])

    assert body is not None
    fields = body.to_dict()
    assert "outdated_sdk_version" not in orjson.dumps(fields, default=str).decode()
    assert fields.get("flow_id") == RECORDED_FLOW
