"""The official SDK (PureCloudPlatformClientV2 269.0.0) talks to the sandbox unchanged.

The SDK is synchronous, so every call runs in a worker thread while the sandbox serves
from the test's event loop.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import PureCloudPlatformClientV2 as gc
import pytest
from PureCloudPlatformClientV2.rest import ApiException
from starlette.routing import Route
from urllib3.util import Retry

from sandbox.app import create_sandbox_app
from sandbox.server import RunningSandbox, running_sandbox
from tests.sandbox.conftest import (
    CONVERSATION,
    HANGING_CALL,
    IVR,
    LINEAR,
    CallbackReceiver,
    make_config,
    poll_until,
    register_callback_action,
    token_for,
)

OPERATION = re.compile(r"resource_path = '([^']+)'.*?call_api\(resource_path, '(\w+)'", re.S)
PARAMETER = re.compile(r"\{[^}]+\}")


async def call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return await asyncio.to_thread(function, *args, **kwargs)


def model(cls: type, **fields: Any) -> Any:
    """Build an SDK model (their constructors take no arguments)."""
    instance = cls()
    for name, value in fields.items():
        setattr(instance, name, value)
    return instance


@pytest.fixture
async def sdk(sandbox: RunningSandbox) -> gc.ApiClient:
    client = gc.ApiClient(host=sandbox.base_url)
    await call(client.get_client_credentials_token, "sandbox", "sandbox")
    return client


async def expect_api_error(
    status: int, function: Callable[..., Any], *args: Any, **kwargs: Any
) -> ApiException:
    with pytest.raises(ApiException) as caught:
        await call(function, *args, **kwargs)
    assert caught.value.status == status
    return caught.value


def sdk_operations() -> set[tuple[str, str]]:
    """Every (verb, path template) the SDK's generated API classes call."""
    operations = set()
    for source in Path(gc.__file__).parent.joinpath("apis").glob("*.py"):
        text = source.read_text(encoding="utf-8")
        for path, verb in OPERATION.findall(text):
            operations.add((verb, PARAMETER.sub("{}", path)))
    return operations


def test_every_api_route_of_the_sandbox_exists_in_the_sdk() -> None:
    app = create_sandbox_app(make_config())
    served = {
        (verb, PARAMETER.sub("{}", route.path))
        for route in app.routes
        if isinstance(route, Route) and route.path.startswith("/api/v2/")
        for verb in (route.methods or set()) - {"HEAD"} or {"HEAD"}
    }

    assert len(served) == 41
    assert served <= sdk_operations()


async def test_sdk_gets_a_token_with_client_credentials(sandbox: RunningSandbox) -> None:
    client = gc.ApiClient(host=sandbox.base_url)

    await call(client.get_client_credentials_token, "sandbox", "sandbox")

    assert client.access_token


async def test_sdk_sees_bad_client_credentials_as_401(sandbox: RunningSandbox) -> None:
    client = gc.ApiClient(host=sandbox.base_url)

    await expect_api_error(401, client.get_client_credentials_token, "sandbox", "wrong")


async def test_sdk_sees_an_unknown_bearer_as_401_error_body(sandbox: RunningSandbox) -> None:
    client = gc.ApiClient(host=sandbox.base_url)
    client.access_token = "not-a-token"

    error = await expect_api_error(401, gc.ArchitectApi(client).get_flows)

    assert '"status":401' in error.body
    assert error.headers["ININ-Correlation-Id"]


async def test_sdk_lists_and_reads_flows(sdk: gc.ApiClient) -> None:
    architect = gc.ArchitectApi(sdk)

    listing = await call(architect.get_flows, type=["workflow"], page_size=50)
    flow = await call(architect.get_flow, LINEAR)

    assert isinstance(listing, gc.FlowEntityListing)
    assert LINEAR in {f.id for f in listing.entities}
    assert {f.type for f in listing.entities} == {"WORKFLOW"}
    assert listing.total == len(listing.entities)
    assert isinstance(flow, gc.Flow)
    assert flow.name == "Linear workflow"
    assert flow.division.name == "Home"
    assert flow.published_version.id == "1.0"
    assert flow.published_version.type == "PUBLISH"


async def test_sdk_launches_a_flow_and_reads_its_status(sdk: gc.ApiClient) -> None:
    architect = gc.ArchitectApi(sdk)
    request = model(
        gc.FlowExecutionLaunchRequest,
        flow_id=LINEAR,
        name="order-4711",
        input_data={"flowtrackLaunchId": "L-1"},
    )

    launched = await call(architect.post_flows_executions, request)
    running = await call(architect.get_flows_execution, launched.id)
    done = await poll_until(
        lambda: call(architect.get_flows_execution, launched.id),
        lambda e: e.status != "RUNNING",
    )

    assert isinstance(launched, gc.FlowExecutionLaunchResponse)
    assert launched.name == "order-4711"
    assert launched.flow_version.id == "1.0"
    assert launched.self_uri == f"/api/v2/flows/executions/{launched.id}"
    assert isinstance(running, gc.FlowRuntimeExecution)
    assert running.date_launched is not None
    assert done.status == "COMPLETED"
    assert done.date_completed >= done.date_launched
    assert done.output_data == {"Flow.result": "ok"}
    assert done.conversation is None


async def test_sdk_sees_launch_errors_with_their_status(sdk: gc.ApiClient) -> None:
    architect = gc.ArchitectApi(sdk)
    unknown = model(gc.FlowExecutionLaunchRequest, flow_id="no-such-flow")
    not_launchable = model(gc.FlowExecutionLaunchRequest, flow_id=IVR)

    await expect_api_error(404, architect.post_flows_executions, unknown)
    await expect_api_error(400, architect.post_flows_executions, not_launchable)
    await expect_api_error(
        400, architect.post_flows_executions, model(gc.FlowExecutionLaunchRequest)
    )
    await expect_api_error(404, architect.get_flows_execution, "no-such-execution")


async def test_sdk_reads_and_disconnects_a_conversation(sdk: gc.ApiClient) -> None:
    architect, conversations = gc.ArchitectApi(sdk), gc.ConversationsApi(sdk)
    launched = await call(
        architect.post_flows_executions, model(gc.FlowExecutionLaunchRequest, flow_id=HANGING_CALL)
    )
    execution = await call(architect.get_flows_execution, launched.id)
    conversation_id = execution.conversation.id

    active = await call(conversations.get_conversation, conversation_id)
    accepted = await call(conversations.post_conversation_disconnect, conversation_id)
    ended = await poll_until(
        lambda: call(conversations.get_conversation, conversation_id),
        lambda c: c.end_time is not None,
    )

    assert isinstance(active, gc.Conversation)
    assert active.end_time is None
    assert active.state is None
    assert {p.purpose for p in active.participants} == {"customer", "workflow"}
    assert active.participants[0].calls[0].state == "connected"
    assert accepted == "Accepted"
    assert ended.participants[0].calls[0].state == "disconnected"
    final = await call(architect.get_flows_execution, launched.id)
    assert final.status == "TERMINATED"
    await expect_api_error(404, conversations.get_conversation, "no-such-conversation")


async def test_sdk_deletes_a_conversation(sdk: gc.ApiClient) -> None:
    architect, conversations = gc.ArchitectApi(sdk), gc.ConversationsApi(sdk)
    launched = await call(
        architect.post_flows_executions, model(gc.FlowExecutionLaunchRequest, flow_id=CONVERSATION)
    )
    execution = await call(architect.get_flows_execution, launched.id)

    result = await call(conversations.delete_conversation, execution.conversation.id)

    assert result is None


async def test_sdk_registers_a_web_services_data_action(sdk: gc.ApiClient) -> None:
    integrations = gc.IntegrationsApi(sdk)
    credential = await call(
        integrations.post_integrations_credentials,
        body=model(
            gc.Credential,
            name="flowtrack token",
            type=model(gc.CredentialType, name="userDefined"),
            credential_fields={"token": "t0k"},
        ),
    )
    created = await call(
        integrations.post_integrations,
        body=model(
            gc.CreateIntegrationRequest,
            integration_type=model(gc.IntegrationType, id="custom-rest-actions"),
        ),
    )
    current = await call(integrations.get_integration_config_current, created.id)
    current.name = "flowtrack"
    current.credentials = {"basicAuth": model(gc.CredentialInfo, id=credential.id)}
    configured = await call(integrations.put_integration_config_current, created.id, body=current)
    enabled = await call(
        integrations.patch_integration,
        created.id,
        body=model(gc.Integration, intended_state="ENABLED"),
    )

    assert isinstance(credential, gc.CredentialInfo)
    assert credential.type.name == "userDefined"
    assert created.intended_state == "DISABLED"
    assert created.integration_type.id == "custom-rest-actions"
    assert configured.version == current.version + 1
    assert configured.credentials["basicAuth"].id == credential.id
    assert enabled.intended_state == "ENABLED"
    assert enabled.reported_state.code == "ACTIVE"
    assert enabled.name == "flowtrack"
    listing = await call(integrations.get_integrations, integration_type="custom-rest-actions")
    assert [i.id for i in listing.entities] == [created.id]
    fetched = await call(integrations.get_integrations_credential, credential.id)
    assert fetched.credential_fields == {"token": "t0k"}
    await expect_api_error(
        409, integrations.put_integration_config_current, created.id, body=current
    )


async def test_sdk_creates_lists_reads_and_patches_actions(sdk: gc.ApiClient) -> None:
    integrations = gc.IntegrationsApi(sdk)
    created = await call(
        integrations.post_integrations,
        body=model(
            gc.CreateIntegrationRequest,
            integration_type=model(gc.IntegrationType, id="custom-rest-actions"),
        ),
    )
    schema = model(gc.JsonSchemaDocument, type="object", properties={"event": {"type": "string"}})
    config = model(
        gc.ActionConfig,
        timeout_seconds=10,
        request=model(
            gc.RequestConfig,
            request_url_template="https://flowtrack.example/hooks/genesys",
            request_type="POST",
            headers={"X-Flowtrack-Token": "${credentials.token}"},
            request_template="${input.rawRequest}",
        ),
        response=model(gc.ResponseConfig, success_template="${rawResult}"),
    )
    action = await call(
        integrations.post_integrations_actions,
        model(
            gc.PostActionInput,
            name="flowtrack — report flow event",
            integration_id=created.id,
            category="flowtrack",
            secure=False,
            config=config,
            contract=model(
                gc.ActionContractInput,
                input=model(gc.PostInputContract, input_schema=schema),
                output=model(gc.PostOutputContract, success_schema=schema),
            ),
        ),
    )
    found = await call(
        integrations.get_integrations_actions, name="report flow", include_config=True
    )
    fetched = await call(integrations.get_integrations_action, action.id, include_config=True)
    config.timeout_seconds = 20
    patched = await call(
        integrations.patch_integrations_action,
        action.id,
        model(gc.UpdateActionInput, version=action.version, config=config),
    )

    assert isinstance(action, gc.Action)
    assert action.id.startswith("custom_-_")
    assert action.contract.input.input_schema.properties == {"event": {"type": "string"}}
    assert [a.id for a in found.entities] == [action.id]
    assert found.entities[0].config.request.request_type == "POST"
    assert fetched.config.request.request_url_template.endswith("/hooks/genesys")
    assert fetched.integration_id == created.id
    assert patched.version == action.version + 1
    assert patched.config.timeout_seconds == 20
    stale = model(gc.UpdateActionInput, version=action.version, config=config)
    await expect_api_error(409, integrations.patch_integrations_action, action.id, stale)
    await expect_api_error(404, integrations.get_integrations_action, "custom_-_missing")


async def test_sdk_manages_channels_and_subscriptions(sdk: gc.ApiClient) -> None:
    notifications = gc.NotificationsApi(sdk)
    flow_end = "v2.detail.events.conversation.c-1.flow.end"
    instances = f"v2.flows.instances.flow.{LINEAR}"

    channel = await call(notifications.post_notifications_channels)
    channels = await call(notifications.get_notifications_channels)
    replaced = await call(
        notifications.put_notifications_channel_subscriptions,
        channel.id,
        [model(gc.ChannelTopic, id=flow_end)],
    )
    added = await call(
        notifications.post_notifications_channel_subscriptions,
        channel.id,
        [model(gc.ChannelTopic, id=instances), model(gc.ChannelTopic, id="v2.no.such.topic")],
        ignore_errors=True,
    )
    listed = await call(notifications.get_notifications_channel_subscriptions, channel.id)
    await call(notifications.head_notifications_channel, channel.id)
    await call(notifications.delete_notifications_channel_subscriptions, channel.id)
    emptied = await call(notifications.get_notifications_channel_subscriptions, channel.id)

    assert isinstance(channel, gc.Channel)
    assert channel.connect_uri == f"{sdk.host.replace('http', 'ws')}/channels/{channel.id}"
    assert channel.expires is not None
    assert [c.id for c in channels.entities] == [channel.id]
    assert [(t.id, t.state) for t in replaced.entities] == [(flow_end, "Permitted")]
    assert {(t.id, t.state) for t in added.entities} == {
        (flow_end, "Permitted"),
        (instances, "Permitted"),
        ("v2.no.such.topic", "Rejected"),
    }
    assert {t.id for t in listed.entities} == {flow_end, instances}
    assert emptied.entities == []
    await expect_api_error(404, notifications.head_notifications_channel, "streaming-0-nope")
    rejected = [model(gc.ChannelTopic, id="v2.no.such.topic")]
    await expect_api_error(
        400, notifications.put_notifications_channel_subscriptions, channel.id, rejected
    )
    too_many = [model(gc.ChannelTopic, id=f"v2.flows.instances.flow.f-{i}") for i in range(1001)]
    await expect_api_error(
        400, notifications.put_notifications_channel_subscriptions, channel.id, too_many
    )


async def test_sdk_executes_an_action_against_its_upstream(
    sdk: gc.ApiClient, sandbox: RunningSandbox, receiver: CallbackReceiver
) -> None:
    token = await token_for(sandbox.base_url)
    async with httpx.AsyncClient(
        base_url=sandbox.base_url, headers={"Authorization": f"Bearer {token}"}
    ) as api:
        action = await register_callback_action(api, receiver.url)
    integrations = gc.IntegrationsApi(sdk)

    output = await call(integrations.post_integrations_action_execute, action["id"], {"event": "x"})
    receiver.answer = lambda r: (500, {"message": "broken"}, 0.0)
    error = await expect_api_error(
        500, integrations.post_integrations_action_execute, action["id"], {"event": "x"}
    )

    assert output == {"command": "continue"}
    assert receiver.requests[0].body == {"event": "x"}
    assert receiver.requests[0].headers["x-flowtrack-token"] == "s3cret-token"
    assert '"status":500' in error.body


@pytest.fixture
async def tight_sandbox() -> AsyncIterator[RunningSandbox]:
    async with running_sandbox(make_config(rate_limit_per_minute=3)) as running:
        yield running


async def test_sdk_sees_rate_limit_as_429_with_retry_after(tight_sandbox: RunningSandbox) -> None:
    client = gc.ApiClient(host=tight_sandbox.base_url)
    # urllib3 inside the SDK would sleep Retry-After and retry; switch that off to see the 429.
    pools = client.get_http_client().rest_client.pool_manager
    pools.connection_pool_kw["retries"] = Retry(total=0, respect_retry_after_header=False)
    await call(client.get_client_credentials_token, "sandbox", "sandbox")
    architect = gc.ArchitectApi(client)
    for _ in range(3):
        await call(architect.get_flows)

    error = await expect_api_error(429, architect.get_flows)

    assert int(error.headers["Retry-After"]) > 0
    assert error.headers["inin-ratelimit-count"] == "3"
    assert error.headers["inin-ratelimit-allowed"] == "3"
    assert '"code":"too.many.requests"' in error.body


async def test_sdk_waits_out_a_429_burst_honouring_retry_after(
    sdk: gc.ApiClient, sandbox: RunningSandbox
) -> None:
    faults = {"api": {"rateLimitBurst": 1, "retryAfterSeconds": 1}}
    await call(httpx.put, f"{sandbox.base_url}/sandbox/faults", json=faults)
    started = time.monotonic()

    flow = await call(gc.ArchitectApi(sdk).get_flow, LINEAR)

    assert flow.id == LINEAR
    assert time.monotonic() - started >= 1.0
    assert sandbox.state.stats.get("faults.api.429") == 1
