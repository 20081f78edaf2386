"""Integrations, credentials, actions and notification channels: paths, bodies, results."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest

from receiver.genesys import (
    WEB_SERVICES_INTEGRATION_TYPE,
    GenesysClient,
    GenesysConflict,
    GenesysOutcomeUnknown,
)
from tests.receiver.genesys.conftest import FakeGenesys, error_body, reply

ACTIONS = "/api/v2/integrations/actions"
CHANNELS = "/api/v2/notifications/channels"
ACTION = {
    "id": "custom_-_3c5e",
    "name": "flowtrack — report flow event",
    "integrationId": "i-1",
    "category": "flowtrack",
    "version": 4,
    "secure": False,
    "contract": {"input": {"inputSchema": {"type": "object"}}},
    "config": {
        "timeoutSeconds": 10,
        "request": {
            "requestUrlTemplate": "https://ft.example/callbacks/genesys",
            "requestType": "POST",
        },
    },
}


def body_of(request: httpx.Request) -> Any:
    return orjson.loads(request.content)


async def test_integrations_are_listed_by_type(fake: FakeGenesys, client: GenesysClient) -> None:
    fake.on(
        "GET",
        "/api/v2/integrations",
        reply(
            200,
            {
                "entities": [
                    {
                        "id": "i-1",
                        "name": "flowtrack",
                        "intendedState": "ENABLED",
                        "integrationType": {"id": "custom-rest-actions"},
                        "reportedState": {"code": "ACTIVE"},
                    },
                    {"name": "no id: skipped"},
                ],
                "pageSize": 100,
                "pageNumber": 1,
                "total": 1,
                "pageCount": 1,
            },
        ),
    )

    page = await client.integrations.list(integration_type=WEB_SERVICES_INTEGRATION_TYPE)

    params = fake.requests[0].url.params
    assert params["integrationType"] == "custom-rest-actions"
    assert (params["pageNumber"], params["pageSize"]) == ("1", "100")
    (integration,) = page.entities
    assert (integration.id, integration.integration_type, integration.reported_state) == (
        "i-1",
        "custom-rest-actions",
        "ACTIVE",
    )
    assert not page.has_next


async def test_integration_is_created_then_enabled(
    fake: FakeGenesys, client: GenesysClient
) -> None:
    fake.on("POST", "/api/v2/integrations", reply(200, {"id": "i-2", "name": "flowtrack"}))
    fake.on(
        "PATCH", "/api/v2/integrations/i-2", reply(200, {"id": "i-2", "intendedState": "ENABLED"})
    )

    created = await client.integrations.create(WEB_SERVICES_INTEGRATION_TYPE, name="flowtrack")
    enabled = await client.integrations.update(created.id, intended_state="ENABLED")

    assert body_of(fake.requests[0]) == {
        "integrationType": {"id": "custom-rest-actions"},
        "name": "flowtrack",
    }
    assert body_of(fake.requests[1]) == {"intendedState": "ENABLED"}
    assert enabled.intended_state == "ENABLED"


async def test_integration_creation_is_not_repeated_after_a_5xx(
    fake: FakeGenesys, client: GenesysClient
) -> None:
    fake.on("POST", "/api/v2/integrations", reply(503))

    with pytest.raises(GenesysOutcomeUnknown):
        await client.integrations.create(WEB_SERVICES_INTEGRATION_TYPE)
    assert len(fake.requests) == 1


async def test_integration_config_is_read_and_replaced_with_its_version(
    fake: FakeGenesys, client: GenesysClient
) -> None:
    path = "/api/v2/integrations/i-1/config/current"
    fake.on(
        "GET",
        path,
        reply(
            200,
            {
                "name": "flowtrack",
                "version": 3,
                "properties": {},
                "advanced": {},
                "credentials": {
                    "userDefined": {
                        "id": "cred-1",
                        "name": "flowtrack callback",
                        "type": {"name": "userDefined"},
                    }
                },
            },
        ),
    )
    fake.on("PUT", path, reply(200, {"name": "flowtrack", "version": 4}))

    current = await client.integrations.get_config("i-1")
    updated = await client.integrations.update_config(
        "i-1",
        name="flowtrack",
        version=current.version or 1,
        notes="managed by flowtrack",
        credentials={"userDefined": "cred-2"},
    )

    assert current.credentials["userDefined"].id == "cred-1"
    assert current.credentials["userDefined"].type_name == "userDefined"
    assert body_of(fake.requests[1]) == {
        "name": "flowtrack",
        "version": 3,
        "properties": {},
        "advanced": {},
        "credentials": {"userDefined": {"id": "cred-2"}},
        "notes": "managed by flowtrack",
    }
    assert updated.version == 4


async def test_a_stale_config_version_is_a_conflict(
    fake: FakeGenesys, client: GenesysClient
) -> None:
    fake.on(
        "PUT", "/api/v2/integrations/i-1/config/current", reply(409, error_body(409, "conflict"))
    )

    with pytest.raises(GenesysConflict):
        await client.integrations.update_config("i-1", name="n", version=1)
    assert len(fake.requests) == 1


async def test_credentials_are_created_updated_and_listed(
    fake: FakeGenesys, client: GenesysClient
) -> None:
    info = {
        "id": "cred-1",
        "name": "flowtrack callback",
        "type": {"name": "userDefined"},
        "createdDate": "2026-03-02T10:00:00Z",
    }
    fake.on("POST", "/api/v2/integrations/credentials", reply(200, info))
    fake.on("PUT", "/api/v2/integrations/credentials/cred-1", reply(200, info))
    fake.on(
        "GET",
        "/api/v2/integrations/credentials/listing",
        reply(
            200,
            {
                "entities": [info],
                "nextUri": "/api/v2/integrations/credentials/listing?after=abc%3D&pageSize=1",
            },
        ),
    )

    created = await client.integrations.create_credential(
        "flowtrack callback", "userDefined", {"token": "t0k"}
    )
    await client.integrations.update_credential(
        "cred-1", "flowtrack callback", "userDefined", {"token": "t1k"}
    )
    page = await client.integrations.list_credentials(page_size=1, after="xyz")

    assert body_of(fake.requests[0]) == {
        "name": "flowtrack callback",
        "type": {"name": "userDefined"},
        "credentialFields": {"token": "t0k"},
    }
    assert body_of(fake.requests[1])["credentialFields"] == {"token": "t1k"}
    assert fake.requests[2].url.params["after"] == "xyz"
    assert created.created_date == datetime(2026, 3, 2, 10, tzinfo=UTC)
    assert page.has_next
    assert page.next_cursor == "abc="


async def test_actions_are_found_by_name_with_their_config(
    fake: FakeGenesys, client: GenesysClient
) -> None:
    fake.on(
        "GET",
        ACTIONS,
        reply(200, {"entities": [ACTION], "pageNumber": 1, "pageCount": 2, "total": 101}),
    )

    page = await client.actions.list(name="flowtrack — report flow event", include_config=True)

    params = fake.requests[0].url.params
    assert params["name"] == "flowtrack — report flow event"
    assert params["includeConfig"] == "true"
    (action,) = page.entities
    assert (action.id, action.version, action.integration_id) == ("custom_-_3c5e", 4, "i-1")
    assert action.request_url_template == "https://ft.example/callbacks/genesys"
    assert page.has_next


async def test_action_is_read_with_config(fake: FakeGenesys, client: GenesysClient) -> None:
    fake.on("GET", f"{ACTIONS}/custom_-_3c5e", reply(200, ACTION))

    action = await client.actions.get("custom_-_3c5e")

    assert fake.requests[0].url.params["includeConfig"] == "true"
    assert action.config["timeoutSeconds"] == 10


async def test_action_is_created_from_post_action_input(
    fake: FakeGenesys, client: GenesysClient
) -> None:
    fake.on("POST", ACTIONS, reply(200, ACTION))
    contract = {
        "input": {"inputSchema": {"type": "object"}},
        "output": {"successSchema": {"type": "object"}},
    }
    config = {"timeoutSeconds": 10, "request": {"requestType": "POST"}, "response": {}}

    await client.actions.create(
        name="flowtrack — report flow event",
        integration_id="i-1",
        contract=contract,
        config=config,
        category="flowtrack",
    )

    assert body_of(fake.requests[0]) == {
        "name": "flowtrack — report flow event",
        "integrationId": "i-1",
        "contract": contract,
        "config": config,
        "secure": False,
        "category": "flowtrack",
    }


async def test_action_is_patched_with_its_version(fake: FakeGenesys, client: GenesysClient) -> None:
    fake.on("PATCH", f"{ACTIONS}/custom_-_3c5e", reply(200, {**ACTION, "version": 5}))

    patched = await client.actions.update("custom_-_3c5e", version=4, config={"x": 1})

    assert body_of(fake.requests[0]) == {"version": 4, "config": {"x": 1}}
    assert patched.version == 5


async def test_channel_is_created_and_checked(fake: FakeGenesys, client: GenesysClient) -> None:
    fake.on(
        "POST",
        CHANNELS,
        reply(
            200,
            {
                "connectUri": "wss://streaming.test/channels/streaming-7",
                "id": "streaming-7",
                "expires": "2026-03-03T10:00:00.000Z",
            },
        ),
    )
    fake.on("HEAD", f"{CHANNELS}/streaming-7", reply(200))
    fake.on("HEAD", f"{CHANNELS}/gone", reply(404))

    channel = await client.notifications.create_channel()

    assert channel.connect_uri == "wss://streaming.test/channels/streaming-7"
    assert channel.expires == datetime(2026, 3, 3, 10, tzinfo=UTC)
    assert await client.notifications.channel_exists("streaming-7")
    assert not await client.notifications.channel_exists("gone")


async def test_channels_are_listed_for_the_oauth_client(
    fake: FakeGenesys, client: GenesysClient
) -> None:
    fake.on("GET", CHANNELS, reply(200, {"entities": [{"id": "a"}, {"id": "b"}]}))

    channels = await client.notifications.list_channels(include_channels="oauthclient")

    assert [channel.id for channel in channels] == ["a", "b"]
    assert fake.requests[0].url.params["includechannels"] == "oauthclient"


async def test_subscriptions_are_added_replaced_read_and_removed(
    fake: FakeGenesys, client: GenesysClient
) -> None:
    path = f"{CHANNELS}/streaming-7/subscriptions"
    topic = "v2.detail.events.conversation.c-1.flow.end"
    listing = reply(
        200,
        {
            "entities": [
                {"id": topic, "state": "Permitted"},
                {
                    "id": "v2.flows.instances.flow.f-1",
                    "state": "Rejected",
                    "rejectionReason": "missing permission",
                    "missingPermissions": ["architect:x:view"],
                },
            ]
        },
    )
    for method in ("GET", "POST", "PUT"):
        fake.on(method, path, listing)
    fake.on("DELETE", path, reply(200))

    added = await client.notifications.add_subscriptions("streaming-7", [topic])
    replaced = await client.notifications.replace_subscriptions(
        "streaming-7", [topic, "v2.flows.instances.flow.f-1"], ignore_errors=True
    )
    current = await client.notifications.get_subscriptions("streaming-7")
    await client.notifications.delete_subscriptions("streaming-7")

    assert body_of(fake.requests[0]) == [{"id": topic}]
    assert "ignoreErrors" not in fake.requests[0].url.params
    assert body_of(fake.requests[1]) == [{"id": topic}, {"id": "v2.flows.instances.flow.f-1"}]
    assert fake.requests[1].url.params["ignoreErrors"] == "true"
    assert fake.requests[2].content == b""
    assert [r.method for r in fake.requests] == ["POST", "PUT", "GET", "DELETE"]
    assert added == replaced == current
    assert [t.permitted for t in current] == [True, False]
    assert current[1].missing_permissions == ("architect:x:view",)
