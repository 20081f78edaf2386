"""The audit trail of webhook endpoints: every write, its outcome, and each refusal."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from receiver.app import create_app
from receiver.serving.server import RunningServer, running_server
from tests.conftest import READ_KEY, WRITE_KEY, settings_for
from tests.receiver.webhooks.conftest import FAST, Receiver, wait_until

OPS_KEY = "ops-key-0123456789abcdef"
ENDPOINTS = "/api/v1/webhook-endpoints"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    recorder = Receiver()
    async with running_server(recorder) as running:
        recorder.base_url = running.base_url
        yield recorder


@pytest.fixture
async def named(database_url: str, receiver: Receiver) -> AsyncIterator[RunningServer]:
    """flowtrack delivering to the test receiver, with a named write key."""
    settings = settings_for(database_url, **FAST, FLOWTRACK_API_KEYS=f"ops:{OPS_KEY},{WRITE_KEY}")
    async with running_server(create_app(settings)) as running:
        yield running


@pytest.fixture
async def ops(named: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=named.base_url, headers={"Authorization": f"Bearer {OPS_KEY}"}, timeout=20
    ) as http:
        yield http


async def audit_of(api: httpx.AsyncClient, **params: str) -> list[tuple[Any, ...]]:
    answer = await api.get(
        "/api/v1/audit", params=params, headers={"Authorization": f"Bearer {READ_KEY}"}
    )
    assert answer.status_code == 200, answer.text
    return [
        (r["keyName"], r["action"], r["target"], r["outcome"], r["detail"])
        for r in answer.json()["items"]
    ]


async def test_an_endpoint_s_life_is_recorded_with_where_it_points_but_no_secret_path(
    ops: httpx.AsyncClient, receiver: Receiver
) -> None:
    created = await ops.post(
        ENDPOINTS,
        json={"url": receiver.url("/hook/T0KEN"), "eventTypes": ["flow.error"]},
        headers={"X-Request-Id": "req-create"},
    )
    assert created.status_code == 201, created.text
    endpoint = created.headers["location"]
    endpoint_id = created.json()["id"]
    changed = await ops.patch(
        endpoint,
        json={"url": receiver.url("/other"), "eventTypes": ["launch.failed"], "enabled": False},
    )
    untouched = await ops.patch(endpoint, json={})
    rotated = await ops.post(f"{endpoint}/rotate-secret")
    deleted = await ops.delete(endpoint)
    assert [changed.status_code, untouched.status_code, rotated.status_code] == [200, 200, 200]
    assert deleted.status_code == 204

    records = await audit_of(ops, target=endpoint_id)
    until = rotated.json()["previousSecretValidUntil"]
    assert records == [
        ("ops", "webhook_endpoint_delete", endpoint_id, "completed", None),
        (
            "ops",
            "webhook_secret_rotate",
            endpoint_id,
            "completed",
            f"the old secret signs too until {until}",
        ),
        ("ops", "webhook_endpoint_update", endpoint_id, "completed", None),
        (
            "ops",
            "webhook_endpoint_update",
            endpoint_id,
            "completed",
            f"url={receiver.base_url}, eventTypes, enabled=false",
        ),
        ("ops", "webhook_endpoint_create", endpoint_id, "created", receiver.base_url),
    ]
    assert not any("T0KEN" in str(record) for record in records)
    oldest = await ops.get(
        "/api/v1/audit",
        params={"target": endpoint_id, "action": "webhook_endpoint_create"},
        headers={"Authorization": f"Bearer {READ_KEY}"},
    )
    assert oldest.json()["items"][0]["requestId"] == "req-create"


async def test_writes_to_what_does_not_exist_and_refused_urls_are_recorded_as_refusals(
    ops: httpx.AsyncClient,
) -> None:
    missing = f"{ENDPOINTS}/ep_missing"
    answers = [
        await ops.patch(missing, json={"enabled": True}),
        await ops.delete(missing),
        await ops.post(f"{missing}/rotate-secret"),
        await ops.post(f"{missing}/test"),
        await ops.post(f"{missing}/recover", json={"since": "2026-01-01T00:00:00Z"}),
        await ops.post("/api/v1/webhook-messages/msg_missing/resend"),
    ]
    assert [answer.status_code for answer in answers] == [404] * 6
    credentials = await ops.post(
        ENDPOINTS, json={"url": "https://u:p@93.184.215.14/h", "eventTypes": ["flow.error"]}
    )
    malformed = await ops.post(ENDPOINTS, json={"url": "https://93.184.215.14/h"})
    assert (credentials.status_code, malformed.status_code) == (422, 422)

    not_found = "webhook_endpoint_not_found"
    assert await audit_of(ops) == [
        ("ops", "webhook_endpoint_create", None, "refused", "invalid_webhook_url"),
        ("ops", "webhook_message_resend", "msg_missing", "refused", "webhook_message_not_found"),
        ("ops", "webhook_endpoint_recover", "ep_missing", "refused", not_found),
        ("ops", "webhook_endpoint_test", "ep_missing", "refused", not_found),
        ("ops", "webhook_secret_rotate", "ep_missing", "refused", not_found),
        ("ops", "webhook_endpoint_delete", "ep_missing", "refused", not_found),
        ("ops", "webhook_endpoint_update", "ep_missing", "refused", not_found),
    ]


async def test_a_test_message_a_resend_and_a_recovery_are_recorded_as_requested(
    ops: httpx.AsyncClient, receiver: Receiver
) -> None:
    receiver.answers["/hook"] = [500, 500, 500]  # every attempt of the test message fails
    created = await ops.post(
        ENDPOINTS, json={"url": receiver.url("/hook"), "eventTypes": ["flow.error"]}
    )
    endpoint = created.headers["location"]
    endpoint_id = created.json()["id"]
    tested = await ops.post(f"{endpoint}/test")
    assert tested.status_code == 202
    message_id = tested.json()["messageId"]

    async def failed() -> bool:
        listed = (await ops.get(f"{endpoint}/deliveries")).json()["items"]
        return [each["state"] for each in listed] == ["failed"]

    await wait_until(failed)
    recovered = await ops.post(f"{endpoint}/recover", json={"since": "2026-01-01T00:00:00Z"})
    resent = await ops.post(f"/api/v1/webhook-messages/{message_id}/resend")
    assert (recovered.json()["recovered"], resent.status_code) == (1, 202)

    assert await audit_of(ops, keyName="ops") == [
        ("ops", "webhook_message_resend", message_id, "requested", None),
        (
            "ops",
            "webhook_endpoint_recover",
            endpoint_id,
            "requested",
            "1 failed since 2026-01-01T00:00:00+00:00",
        ),
        ("ops", "webhook_endpoint_test", endpoint_id, "requested", message_id),
        ("ops", "webhook_endpoint_create", endpoint_id, "created", receiver.base_url),
    ]
