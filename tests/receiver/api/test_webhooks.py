"""Webhook endpoints over the REST API: validation, access, the secret shown once."""

from typing import Any

import httpx
import pytest

from storage.outbox import EVENT_TYPES
from tests.conftest import READ_KEY

PUBLIC = "https://93.184.215.14/hook"  # a public address: no name to resolve


async def create(api: httpx.AsyncClient, **body: Any) -> httpx.Response:
    return await api.post("/api/v1/webhook-endpoints", json=body)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://93.184.215.14/hook", "must be an https:// URL"),
        ("https://user:secret@93.184.215.14/hook", "must not carry credentials"),
        ("https://127.0.0.1/hook", "resolves to an internal address (127.0.0.1)"),
        ("https://10.1.2.3/hook", "resolves to an internal address (10.1.2.3)"),
        ("https://169.254.169.254/latest", "resolves to an internal address"),
        ("https://[::1]/hook", "resolves to an internal address (::1)"),
        ("https:///hook", "names no host"),
    ],
)
async def test_urls_webhooks_may_not_go_to_are_refused(
    api: httpx.AsyncClient, url: str, problem: str
) -> None:
    response = await create(api, url=url, eventTypes=["launch.completed"])

    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_webhook_url"
    assert problem in response.json()["detail"][0]["problem"]


async def test_an_endpoint_description_is_checked_field_by_field(api: httpx.AsyncClient) -> None:
    response = await create(api, url=PUBLIC, eventTypes=["launch.completed", "launch.exploded"])
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_webhook_endpoint"
    assert response.json()["detail"] == [
        {"field": "eventTypes[1]", "problem": "unknown event type 'launch.exploded'"}
    ]

    empty = await create(api, url=PUBLIC, eventTypes=[])
    assert empty.status_code == 422
    assert empty.json()["detail"][0]["field"] == "eventTypes"
    missing = await create(api, eventTypes=["flow.error"])
    assert missing.json()["detail"] == [{"field": "url", "problem": "is required"}]


async def test_an_endpoint_is_created_with_its_secret_shown_once_then_changed_and_deleted(
    api: httpx.AsyncClient,
) -> None:
    created = await create(
        api, url=PUBLIC, eventTypes=["flow.error", "launch.failed"], description="crm sync"
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["secret"].startswith("whsec_")
    assert body["eventTypes"] == ["flow.error", "launch.failed"]
    assert body["flowIds"] is None and body["enabled"] is True
    assert created.headers["location"] == f"/api/v1/webhook-endpoints/{body['id']}"

    reader = {"Authorization": f"Bearer {READ_KEY}"}
    shown = await api.get(created.headers["location"], headers=reader)
    assert shown.status_code == 200
    assert "secret" not in shown.json()
    listed = await api.get("/api/v1/webhook-endpoints", headers=reader)
    assert [each["id"] for each in listed.json()["items"]] == [body["id"]]
    refused = await api.post(
        "/api/v1/webhook-endpoints",
        json={"url": PUBLIC, "eventTypes": ["flow.error"]},
        headers=reader,
    )
    assert refused.status_code == 403

    changed = await api.patch(
        created.headers["location"],
        json={"eventTypes": ["launch.completed"], "flowIds": ["f-1"], "enabled": False},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["eventTypes"] == ["launch.completed"]
    assert changed.json()["flowIds"] == ["f-1"]
    assert changed.json()["enabled"] is False
    assert changed.json()["description"] == "crm sync"
    all_flows = await api.patch(created.headers["location"], json={"flowIds": None})
    assert all_flows.json()["flowIds"] is None

    assert (await api.delete(created.headers["location"])).status_code == 204
    gone = await api.get(created.headers["location"])
    assert gone.status_code == 404
    assert gone.json()["error"] == "webhook_endpoint_not_found"
    assert (await api.post(f"{created.headers['location']}/test")).status_code == 404


async def test_the_event_type_catalogue_lists_every_type_with_an_example_body(
    api: httpx.AsyncClient,
) -> None:
    response = await api.get("/api/v1/webhook-event-types")

    assert response.status_code == 200
    catalogue = response.json()
    names = [each["type"] for each in catalogue["types"]]
    assert names == [*EVENT_TYPES, "webhook.test"]
    assert all(each["version"] == 1 for each in catalogue["types"])
    examples = catalogue["examples"]
    assert set(examples) == set(names)
    assert examples["launch.timed_out"]["data"]["state"] == "timed_out"
    assert examples["flow.error"]["type"] == "flow.error"
    assert set(examples["flow.error"]) == {"type", "timestamp", "data"}
