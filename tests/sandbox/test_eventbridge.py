"""EventBridge mode POSTs every notification, wrapped in the EventBridge envelope."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from sandbox.server import RunningSandbox, running_sandbox
from tests.sandbox.conftest import (
    CONVERSATION,
    CallbackReceiver,
    authorized,
    finished,
    launch,
    make_config,
    wait_for,
)


@pytest.fixture
async def bridged(receiver: CallbackReceiver) -> AsyncIterator[RunningSandbox]:
    config = make_config(eventbridge_url=f"{receiver.url}/eventbridge")
    async with running_sandbox(config) as running:
        yield running


@pytest.fixture
async def bridged_api(bridged: RunningSandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with authorized(bridged) as client:
        yield client


def envelopes(receiver: CallbackReceiver) -> list[dict[str, Any]]:
    return [r.body for r in receiver.requests if r.path == "/eventbridge"]


async def test_conversation_flow_events_are_posted_as_eventbridge_envelopes(
    bridged_api: httpx.AsyncClient, receiver: CallbackReceiver
) -> None:
    launched = await launch(bridged_api, CONVERSATION)
    status = await finished(bridged_api, launched["id"])

    await wait_for(lambda: len(envelopes(receiver)) == 3)

    by_type = {e["detail-type"]: e for e in envelopes(receiver)}
    assert set(by_type) == {
        "v2.detail.events.conversation.{id}.flow.start",
        "v2.detail.events.conversation.{id}.flow.end",
        "v2.flows.instances.flow.{id}",
    }
    end = by_type["v2.detail.events.conversation.{id}.flow.end"]
    conversation_id = status["conversation"]["id"]
    assert end["detail"]["topicName"] == f"v2.detail.events.conversation.{conversation_id}.flow.end"
    assert end["detail"]["eventBody"]["exitReason"] == "FLOW_DISCONNECT"
    assert end["detail"]["metadata"]["CorrelationId"]
    assert end["version"] == "0"
    assert end["source"].startswith("aws.partner/genesys.com/cloud/")
    assert end["time"].endswith("Z")
    assert end["resources"] == []


async def test_eventbridge_deliveries_are_retried_until_accepted(
    bridged_api: httpx.AsyncClient, bridged: RunningSandbox, receiver: CallbackReceiver
) -> None:
    refusals = iter([500, 503])
    receiver.answer = lambda r: (next(refusals, 200), {}, 0.0)
    launched = await launch(bridged_api, CONVERSATION)
    await finished(bridged_api, launched["id"])

    await wait_for(lambda: bridged.state.stats.get("eventbridge.delivered") == 3)

    assert bridged.state.stats.get("eventbridge.redeliveries") == 2
    assert len(envelopes(receiver)) == 5
