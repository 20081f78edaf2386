"""The official SDK drives the channel lifecycle and the execution-history pull unchanged.

NotificationsApi (channels, subscriptions with ``ignore_errors``, renewal, 403/400/404)
and ArchitectApi (the execution-data setting, ``post_flows_instances_query``,
``post_flows_instances_jobs``, ``get_flows_instances_job``, ``get_flows_instance``)
against a served sandbox; the SDK's enum setters turn unknown values into
``outdated_sdk_version``, so every enum read here is checked against it too.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import PureCloudPlatformClientV2 as gc
import pytest

from sandbox.server import RunningSandbox, running_sandbox
from tests.sandbox.conftest import LINEAR, finished, launch, make_config, token_for
from tests.sandbox.test_sdk_conformance import call, expect_api_error, model

INSTANCES = f"v2.flows.instances.flow.{LINEAR}"
FLOW_END = "v2.detail.events.conversation.c-1.flow.end"


@pytest.fixture
async def limited() -> AsyncIterator[RunningSandbox]:
    config = make_config(
        permissions={"sandbox": ["analytics:flowEvent:view"]}, channel_lifetime_seconds=2.5
    )
    async with running_sandbox(config) as sandbox:
        yield sandbox


async def sdk_for(sandbox: RunningSandbox) -> gc.ApiClient:
    client = gc.ApiClient(host=sandbox.base_url)
    await call(client.get_client_credentials_token, "sandbox", "sandbox")
    return client


async def test_sdk_sees_rejected_topics_with_missing_permissions_and_a_403_without_ignore(
    limited: RunningSandbox,
) -> None:
    notifications = gc.NotificationsApi(await sdk_for(limited))
    channel = await call(notifications.post_notifications_channels)
    topics = [model(gc.ChannelTopic, id=FLOW_END), model(gc.ChannelTopic, id=INSTANCES)]

    answered = await call(
        notifications.post_notifications_channel_subscriptions,
        channel.id,
        topics,
        ignore_errors=True,
    )
    refused = await expect_api_error(
        403, notifications.put_notifications_channel_subscriptions, channel.id, topics
    )

    permitted, rejected = answered.entities
    assert (permitted.id, permitted.state) == (FLOW_END, "Permitted")
    assert (rejected.id, rejected.state) == (INSTANCES, "Rejected")
    assert rejected.missing_permissions == ["architect:flowInstance:view"]
    assert rejected.rejection_reason
    assert '"missing.permissions"' in refused.body


async def test_sdk_renews_a_channel_by_resubscribing_and_sees_404_once_it_expired(
    limited: RunningSandbox,
) -> None:
    notifications = gc.NotificationsApi(await sdk_for(limited))
    channel = await call(notifications.post_notifications_channels)
    combined = [model(gc.ChannelTopic, id="v2.detail.events.conversation.c-1?flow.start&flow.end")]

    await asyncio.sleep(1.5)
    await call(notifications.post_notifications_channel_subscriptions, channel.id, combined)
    listed = await call(notifications.get_notifications_channels, includechannels="oauthclient")
    await asyncio.sleep(1.5)  # past the first deadline, within the renewed one
    await call(notifications.head_notifications_channel, channel.id)
    await asyncio.sleep(2.5)

    assert [c.expires > channel.expires for c in listed.entities] == [True]
    await expect_api_error(404, notifications.head_notifications_channel, channel.id)
    await expect_api_error(404, notifications.get_notifications_channel_subscriptions, channel.id)


async def test_sdk_sees_the_1000_topic_limit_as_a_400(sdk: gc.ApiClient) -> None:
    notifications = gc.NotificationsApi(sdk)
    channel = await call(notifications.post_notifications_channels)
    topics = [model(gc.ChannelTopic, id=f"v2.flows.instances.flow.f-{i}") for i in range(1000)]

    full = await call(notifications.put_notifications_channel_subscriptions, channel.id, topics)
    await expect_api_error(
        400,
        notifications.post_notifications_channel_subscriptions,
        channel.id,
        [model(gc.ChannelTopic, id=INSTANCES)],
        ignore_errors=True,
    )

    assert len(full.entities) == 1000


@pytest.fixture
async def sdk(sandbox: RunningSandbox) -> gc.ApiClient:
    return await sdk_for(sandbox)


async def test_sdk_reads_and_patches_the_execution_data_setting(sdk: gc.ApiClient) -> None:
    architect = gc.ArchitectApi(sdk)

    setting = await call(architect.get_flows_instances_settings_executiondata)
    patched = await call(
        architect.patch_flows_instances_settings_executiondata,
        model(gc.ExecutionDataSettingsRequest, enabled=False),
    )

    assert isinstance(setting, gc.ExecutionDataFlowSettingsResponse)
    assert setting.enabled is True
    assert setting.date_modified is not None
    assert patched.enabled is False
    assert patched.modified_by_client.id == "sandbox"
    assert patched.date_modified > setting.date_modified


async def test_sdk_queries_instances_and_downloads_one_through_a_job(
    sdk: gc.ApiClient, sandbox: RunningSandbox
) -> None:
    architect = gc.ArchitectApi(sdk)
    token = await token_for(sandbox.base_url)
    async with httpx.AsyncClient(
        base_url=sandbox.base_url, headers={"Authorization": f"Bearer {token}"}
    ) as api:
        done = await finished(api, (await launch(api, LINEAR))["id"])
    body = model(
        gc.CriteriaQuery,
        query=[
            model(
                gc.CriteriaGroup,
                criteria=model(gc.CriteriaItem, key="FlowId", operator="eq", value=LINEAR),
            ),
            model(
                gc.CriteriaGroup,
                pcAnd=[
                    model(
                        gc.CriteriaItem,
                        key="FlowStartDateTime",
                        operator="gte",
                        value=done["dateLaunched"],
                    ),
                    model(gc.CriteriaItem, key="FlowErrorReason", operator="not", value="BOOM"),
                ],
            ),
        ],
    )

    listing = await call(architect.post_flows_instances_query, body, page_size=50)
    job = await call(
        architect.post_flows_instances_jobs, model(gc.ExecutionDataRequest, ids=[done["id"]])
    )
    states = [job.job_state]
    while states[-1] != "Success":
        states.append((await call(architect.get_flows_instances_job, job.id)).job_state)
    result = await call(architect.get_flows_instances_job, job.id)
    single = await call(architect.get_flows_instance, done["id"])
    async with httpx.AsyncClient() as anonymous:
        record: dict[str, Any] = (await anonymous.get(result.entities[0].download_uri)).json()

    assert isinstance(listing, gc.FlowResultEntityListing)
    assert listing.total == 1
    instance = listing.entities[0]
    assert isinstance(instance, gc.FlowExecutionDataQueryResult)
    assert (instance.id, instance.flow_id, instance.flow_type) == (done["id"], LINEAR, "workflow")
    assert instance.start_date_time is not None and instance.end_date_time is not None
    assert states == ["Registered", "Running", "Success"]
    assert isinstance(result.entities[0], gc.ExecutionDataEntity)
    assert result.entities[0].failed is False
    assert single.job_state == "Registered"
    assert record["flow"]["executionId"] == done["id"]
    items = record["flow"]["execution"]
    assert [next(iter(item)) for item in items] == [
        "startedFlow",
        "startedTask",
        "endedTask",
        "endedFlow",
    ]
    nested = items[1]["startedTask"]["execution"]
    assert [next(iter(item)) for item in nested] == ["actionCallData", "actionSendEmail"]


async def test_sdk_sees_a_bad_criteria_key_as_a_400(sdk: gc.ApiClient) -> None:
    architect = gc.ArchitectApi(sdk)
    item = model(gc.CriteriaItem, key="FlowId", operator="eq", value=LINEAR)
    item._key = "LaunchId"  # the SDK's setter would refuse it; the wire must too

    await expect_api_error(
        400,
        architect.post_flows_instances_query,
        model(gc.CriteriaQuery, query=[model(gc.CriteriaGroup, criteria=item)]),
    )


async def test_sdk_lists_the_flow_topics_with_the_permissions_they_need(sdk: gc.ApiClient) -> None:
    notifications = gc.NotificationsApi(sdk)

    bare = await call(notifications.get_notifications_availabletopics)
    expanded = await call(
        notifications.get_notifications_availabletopics,
        expand=["requiresPermissions", "transports"],
    )

    assert {t.id for t in bare.entities} == {
        "v2.detail.events.conversation.{id}.flow.start",
        "v2.detail.events.conversation.{id}.flow.end",
        "v2.detail.events.conversation.{id}.flow.outcome",
        "v2.flows.instances.flow.{id}",
    }
    assert all(t.requires_permissions is None for t in bare.entities)
    needs = {t.id: t.requires_permissions for t in expanded.entities}
    assert needs["v2.flows.instances.flow.{id}"] == ["architect:flowInstance:view"]
    assert all(t.transports for t in expanded.entities)
