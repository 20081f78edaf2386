"""The official SDK's IntegrationsApi data action calls work against the sandbox unchanged.

Listing, get with ``expand=contract``, get-action-schema, execute and test, through
``PureCloudPlatformClientV2`` 269.0.0 pointed at a sandbox with the sample actions.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import PureCloudPlatformClientV2 as gc
import pytest
from urllib3.util import Retry

from sandbox.action_samples import FLAKY_LOOKUP, LOOKUP_ACCOUNT, SLOW_REPORT
from sandbox.server import running_sandbox
from tests.sandbox.conftest import make_config
from tests.sandbox.test_sdk_conformance import call, expect_api_error


@pytest.fixture
async def integrations() -> AsyncIterator[gc.IntegrationsApi]:
    async with running_sandbox(make_config(sample_actions=True)) as sb:
        client = gc.ApiClient(host=sb.base_url)
        await call(client.get_client_credentials_token, "sandbox", "sandbox")
        # urllib3 inside the SDK would sleep Retry-After and retry; switch that off.
        pools = client.get_http_client().rest_client.pool_manager
        pools.connection_pool_kw["retries"] = Retry(total=0, respect_retry_after_header=False)
        yield gc.IntegrationsApi(client)


async def test_sdk_lists_actions_with_the_listing_filters(
    integrations: gc.IntegrationsApi,
) -> None:
    listing = await call(
        integrations.get_integrations_actions,
        category="Sandbox samples",
        name="lookup",
        sort_by="name",
        sort_order="DESC",
        page_size=10,
    )
    by_ids = await call(integrations.get_integrations_actions, ids=[SLOW_REPORT])

    assert isinstance(listing, gc.ActionEntityListing)
    assert [a.name for a in listing.entities] == ["Lookup Account", "Flaky Lookup"]
    assert listing.total == 2
    assert [a.id for a in by_ids.entities] == [SLOW_REPORT]


async def test_sdk_reads_an_action_with_its_contract_and_its_schema_files(
    integrations: gc.IntegrationsApi,
) -> None:
    action = await call(integrations.get_integrations_action, LOOKUP_ACCOUNT, expand="contract")
    file_name = action.contract.input.input_schema_uri.rsplit("/", 1)[1]
    schema = await call(integrations.get_integrations_action_schema, LOOKUP_ACCOUNT, file_name)
    flattened = await call(
        integrations.get_integrations_action, LOOKUP_ACCOUNT, expand="contract", flatten=True
    )

    assert isinstance(action, gc.Action)
    assert action.name == "Lookup Account"
    assert action.contract.input.input_schema.required == ["accountId"]
    assert action.contract.input.input_schema.schema == "http://json-schema.org/draft-04/schema#"
    assert set(action.contract.output.success_schema.properties) >= {"accountId", "orders"}
    assert isinstance(schema, gc.JsonSchemaDocument)
    assert schema.properties == action.contract.input.input_schema.properties
    assert flattened.contract.input.input_schema is None
    assert flattened.contract.input.input_schema_flattened.required == ["accountId"]
    assert flattened.contract.output.success_schema_flattened.array_properties == ["orders"]
    await expect_api_error(404, integrations.get_integrations_action_schema, SLOW_REPORT, "x.json")


async def test_sdk_executes_an_action_and_reads_its_failures(
    integrations: gc.IntegrationsApi,
) -> None:
    output = await call(
        integrations.post_integrations_action_execute, LOOKUP_ACCOUNT, {"accountId": "ACC-5"}
    )
    invalid = await expect_api_error(
        400, integrations.post_integrations_action_execute, LOOKUP_ACCOUNT, {"limit": 0}
    )
    remote = await expect_api_error(
        500, integrations.post_integrations_action_execute, FLAKY_LOOKUP, {"key": "k", "fail": True}
    )
    timeout = await expect_api_error(
        408, integrations.post_integrations_action_execute, SLOW_REPORT, {"reportName": "r"}
    )

    assert output["accountId"] == "ACC-5"
    assert [d["fieldName"] for d in json.loads(invalid.body)["details"]] == ["accountId", "limit"]
    assert json.loads(remote.body)["details"] == [{"errorCode": "ACTION.REMOTE_ENDPOINT"}]
    assert remote.headers["ININ-Correlation-Id"] == json.loads(remote.body)["contextId"]
    assert json.loads(timeout.body)["details"] == [{"errorCode": "ACTION.TIMEOUT"}]


async def test_sdk_tests_an_action_and_reads_its_steps(integrations: gc.IntegrationsApi) -> None:
    passed = await call(
        integrations.post_integrations_action_test,
        SLOW_REPORT,
        {"reportName": "r", "delaySeconds": 0},
    )
    failed = await call(
        integrations.post_integrations_action_test, FLAKY_LOOKUP, {"key": "k", "fail": True}
    )

    assert isinstance(passed, gc.TestExecutionResult)
    assert passed.success is True
    assert passed.final_result == {"reportId": "rpt-r", "rows": 42}
    assert all(isinstance(op, gc.TestExecutionOperationResult) for op in passed.operations)
    assert [op.step for op in passed.operations] == list(range(1, len(passed.operations) + 1))
    assert failed.success is False
    assert failed.error.status == 500
    assert failed.error.details[0].error_code == "ACTION.REMOTE_ENDPOINT"
    assert failed.operations[-1].success is False
