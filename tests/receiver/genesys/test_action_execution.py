"""The data action calls runs need: the contract, execute and test, each tried once."""

from __future__ import annotations

import pytest

from receiver.genesys import (
    GenesysBadResponse,
    GenesysClient,
    GenesysOutcomeUnknown,
    GenesysRateLimited,
)
from tests.receiver.genesys.conftest import FakeGenesys, reply

ONE = "/api/v2/integrations/actions/custom_-_3c5e"
ACTION = {
    "id": "custom_-_3c5e",
    "name": "Lookup",
    "version": 2,
    "contract": {
        "input": {"inputSchema": {"type": "object", "required": ["id"]}},
        "output": {"successSchema": {"type": "object"}},
    },
    "config": {"timeoutSeconds": 7},
}
REMOTE_FAILURE = {
    "message": "The server encountered an unexpected condition",
    "code": "internal.server.error",
    "status": 500,
    "contextId": "ctx-9",
    "details": [{"errorCode": "ACTION.REMOTE_ENDPOINT"}],
}


async def test_the_contract_and_timeout_are_read_with_expand_contract(
    fake: FakeGenesys, client: GenesysClient
) -> None:
    fake.on("GET", ONE, reply(200, ACTION))
    action = await client.actions.get_with_contract("custom_-_3c5e")
    [request] = fake.calls("GET", ONE)
    assert request.url.params["expand"] == "contract"
    assert request.url.params["includeConfig"] == "true"
    assert (action.version, action.timeout_seconds) == (2, 7)
    assert action.input_schema == {"type": "object", "required": ["id"]}
    assert action.success_schema == {"type": "object"}


async def test_execute_posts_the_input_and_returns_the_answer_with_its_correlation_id(
    fake: FakeGenesys, client: GenesysClient
) -> None:
    fake.on(
        "POST",
        f"{ONE}/execute",
        reply(200, {"name": "ACME"}, headers={"ININ-Correlation-Id": "c-1"}),
    )
    result = await client.actions.execute("custom_-_3c5e", {"id": "7"}, timeout_seconds=12)
    assert (result.body, result.correlation_id) == ({"name": "ACME"}, "c-1")
    [request] = fake.calls("POST", f"{ONE}/execute")
    assert request.content == b'{"id":"7"}'
    assert request.extensions["timeout"]["read"] == 12


async def test_execute_is_tried_once_and_keeps_the_error_body(
    fake: FakeGenesys, client: GenesysClient
) -> None:
    fake.on("POST", f"{ONE}/execute", reply(500, REMOTE_FAILURE))
    with pytest.raises(GenesysOutcomeUnknown) as failed:
        await client.actions.execute("custom_-_3c5e", {"id": "7"}, timeout_seconds=12)
    assert failed.value.body["details"] == [{"errorCode": "ACTION.REMOTE_ENDPOINT"}]
    fake.on(
        "POST",
        f"{ONE}/test",
        reply(429, {"code": "too.many.requests"}, headers={"Retry-After": "1"}),
    )
    with pytest.raises(GenesysRateLimited):
        await client.actions.test("custom_-_3c5e", {"id": "7"}, timeout_seconds=12)
    # The run decides what to repeat: one request each.
    assert len(fake.calls("POST", f"{ONE}/execute")) == 1
    assert len(fake.calls("POST", f"{ONE}/test")) == 1


async def test_an_answer_that_is_not_json_is_a_bad_response(
    fake: FakeGenesys, client: GenesysClient
) -> None:
    fake.on("POST", f"{ONE}/execute", reply(200, text="<html>"))
    with pytest.raises(GenesysBadResponse):
        await client.actions.execute("custom_-_3c5e", {}, timeout_seconds=5)
