"""Listing actions, reading one with its contract, and its schema files."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx

from sandbox.action_samples import FLAKY_LOOKUP, LOOKUP_ACCOUNT, SLOW_REPORT
from tests.sandbox.conftest import make_config, sandbox_client

ACTIONS = "/api/v2/integrations/actions"


def samples_client(**overrides: Any) -> AbstractAsyncContextManager[httpx.AsyncClient]:
    """An authenticated client on a sandbox with the sample actions and ``overrides``."""
    return sandbox_client(make_config(sample_actions=True, **overrides))


async def names(client: httpx.AsyncClient, **params: Any) -> list[str]:
    listing = await client.get(ACTIONS, params=params)
    assert listing.status_code == 200, listing.text
    return [a["name"] for a in listing.json()["entities"]]


async def test_the_listing_filters_sorts_and_pages() -> None:
    async with samples_client() as client:
        by_name = await names(client, name="lookup")
        by_ids = await names(client, ids=f"{SLOW_REPORT},{FLAKY_LOOKUP}")
        descending = await names(client, sortOrder="DESC")
        by_category = await names(client, category="Sandbox samples", pageSize=2, pageNumber=2)
        nothing = await names(client, category="elsewhere")
        too_many = await client.get(ACTIONS, params={"ids": ",".join(f"i{n}" for n in range(51))})
        bad_sort = await client.get(ACTIONS, params={"sortBy": "version"})

    assert by_name == ["Flaky Lookup", "Lookup Account"]
    assert by_ids == ["Flaky Lookup", "Slow Report"]
    assert descending == ["Slow Report", "Lookup Account", "Flaky Lookup"]
    assert by_category == ["Slow Report"]
    assert nothing == []
    assert too_many.status_code == 400
    assert bad_sort.status_code == 400


async def test_expand_contract_brings_the_draft_04_schemas_and_their_uris() -> None:
    async with samples_client() as client:
        action = (
            await client.get(f"{ACTIONS}/{LOOKUP_ACCOUNT}", params={"expand": "contract"})
        ).json()
        bad_expand = await client.get(f"{ACTIONS}/{LOOKUP_ACCOUNT}", params={"expand": "config"})

    schema = action["contract"]["input"]["inputSchema"]
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    assert schema["required"] == ["accountId"]
    assert schema["properties"]["limit"]["type"] == "integer"
    assert action["contract"]["input"]["inputSchemaUri"].startswith(
        f"{ACTIONS}/{LOOKUP_ACCOUNT}/schemas/"
    )
    assert action["contract"]["output"]["successSchema"]["properties"]["orders"]["type"] == "array"
    assert "config" not in action
    assert bad_expand.status_code == 400


async def test_without_expand_the_contract_is_served_as_created() -> None:
    async with samples_client() as client:
        plain = (await client.get(f"{ACTIONS}/{FLAKY_LOOKUP}")).json()

    assert set(plain["contract"]["input"]) == {"inputSchema"}
    assert plain["contract"]["input"]["inputSchema"]["title"] == "Flaky Lookup input"


async def test_contract_needs_expand_serves_only_the_uris_without_it() -> None:
    async with samples_client(contract_needs_expand=True) as client:
        plain = (await client.get(f"{ACTIONS}/{LOOKUP_ACCOUNT}")).json()
        listed = (await client.get(ACTIONS)).json()["entities"][0]
        expanded = (
            await client.get(f"{ACTIONS}/{LOOKUP_ACCOUNT}", params={"expand": "contract"})
        ).json()

    assert set(plain["contract"]["input"]) == {"inputSchemaUri"}
    assert set(plain["contract"]["output"]) == {"successSchemaUri"}
    assert set(listed["contract"]["input"]) == {"inputSchemaUri"}
    assert "inputSchema" in expanded["contract"]["input"]


async def test_the_schema_files_are_served_at_their_uris() -> None:
    async with samples_client() as client:
        action = (
            await client.get(f"{ACTIONS}/{SLOW_REPORT}", params={"expand": "contract"})
        ).json()
        input_uri = action["contract"]["input"]["inputSchemaUri"]
        success_uri = action["contract"]["output"]["successSchemaUri"]
        input_schema = (await client.get(input_uri)).json()
        success_schema = (await client.get(success_uri)).json()
        missing = await client.get(f"{ACTIONS}/{SLOW_REPORT}/schemas/other.json")
        flat = await client.get(input_uri, params={"flatten": "true"})

    assert input_schema["title"] == "Slow Report input"
    assert input_schema["required"] == ["reportName"]
    assert success_schema["properties"]["rows"] == {"type": "integer"}
    assert missing.status_code == 404
    assert set(flat.json()["properties"]) == {"reportName", "delaySeconds"}


async def test_flatten_lifts_nested_properties_to_dotted_names(
    api: httpx.AsyncClient,
) -> None:
    integration = await api.post(
        "/api/v2/integrations", json={"integrationType": {"id": "custom-rest-actions"}}
    )
    nested = {
        "type": "object",
        "required": ["customer"],
        "properties": {
            "customer": {
                "type": "object",
                "required": ["id"],
                "properties": {"id": {"type": "string"}, "tags": {"type": "array"}},
            },
            "note": {"type": "string"},
        },
    }
    created = await api.post(
        ACTIONS,
        json={
            "name": "Nested",
            "integrationId": integration.json()["id"],
            "contract": {"input": {"inputSchema": nested}, "output": {"successSchema": nested}},
            "config": {"request": {"requestUrlTemplate": "http://127.0.0.1:9/x"}},
        },
    )
    action_id = created.json()["id"]

    flat = (
        await api.get(f"{ACTIONS}/{action_id}", params={"expand": "contract", "flatten": "true"})
    ).json()["contract"]

    assert set(flat["input"]) == {"inputSchemaUri", "inputSchemaFlattened"}
    assert set(flat["input"]["inputSchemaFlattened"]["properties"]) == {
        "customer.id",
        "customer.tags",
        "note",
    }
    assert flat["input"]["inputSchemaFlattened"]["required"] == ["customer.id"]
    assert flat["output"]["successSchemaFlattened"]["arrayProperties"] == ["customer.tags"]
