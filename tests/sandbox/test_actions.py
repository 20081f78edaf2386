"""execute and test run a data action against its remote endpoint, as the platform does."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from sandbox.action_samples import LOOKUP_ACCOUNT, SLOW_REPORT
from sandbox.server import RunningSandbox
from tests.conftest import free_port
from tests.sandbox.conftest import (
    CallbackReceiver,
    configured_integration,
    make_config,
    sandbox_client,
)


@pytest.fixture
async def samples() -> AsyncIterator[httpx.AsyncClient]:
    """An authenticated client on a sandbox that has the sample actions."""
    async with sandbox_client(make_config(sample_actions=True)) as client:
        yield client


async def create_action(
    api: httpx.AsyncClient,
    url: str,
    *,
    input_schema: dict[str, Any] | None = None,
    response: dict[str, Any] | None = None,
    timeout_seconds: int = 5,
    method: str = "POST",
) -> str:
    """A Web Services action with a credential (``secret``) posting to ``url``."""
    credential = {"name": "c", "credentialFields": {"secret": "s3"}}
    integration_id = await configured_integration(api, "remote", credential, slot="key")
    action = await api.post(
        "/api/v2/integrations/actions",
        json={
            "name": "Remote call",
            "integrationId": integration_id,
            "contract": {
                "input": {"inputSchema": input_schema or {"type": "object"}},
                "output": {"successSchema": {"type": "object"}},
            },
            "config": {
                "timeoutSeconds": timeout_seconds,
                "request": {
                    "requestUrlTemplate": url,
                    "requestType": method,
                    "headers": {"X-Secret": "$!{credentials.secret}", "X-Who": "$!{input.who}"},
                    "requestTemplate": '{"greeting": "hello $!{input.who}", "n": $!{input.n}}',
                },
                "response": response or {"successTemplate": "${rawResult}"},
            },
        },
    )
    assert action.status_code == 200, action.text
    action_id: str = action.json()["id"]
    return action_id


async def execute(api: httpx.AsyncClient, action_id: str, body: Any) -> httpx.Response:
    return await api.post(f"/api/v2/integrations/actions/{action_id}/execute", json=body)


async def test_execute_renders_input_and_credentials_into_the_request(
    api: httpx.AsyncClient, receiver: CallbackReceiver
) -> None:
    action_id = await create_action(api, f"{receiver.url}/people/$!{{input.who}}")

    answered = await execute(api, action_id, {"who": "ada", "n": 3})

    assert answered.status_code == 200, answered.text
    sent = receiver.requests[0]
    assert sent.path == "/people/ada"
    assert sent.body == {"greeting": "hello ada", "n": 3}
    assert sent.headers["x-secret"] == "s3"
    assert sent.headers["x-who"] == "ada"
    assert sent.headers["inin-correlation-id"] == answered.headers["ININ-Correlation-Id"]
    assert sent.headers["inin-organization-id"]


async def test_execute_translates_the_answer_through_the_response_config(
    api: httpx.AsyncClient, receiver: CallbackReceiver
) -> None:
    receiver.answer = lambda _: (200, {"data": {"items": [{"id": "i-1"}]}, "ok": True}, 0.0)
    action_id = await create_action(
        api,
        receiver.url,
        response={
            "translationMap": {"first": "$.data.items[0].id", "flag": "$.missing"},
            "translationMapDefaults": {"flag": "false"},
            "successTemplate": '{"first": ${first}, "flag": ${flag}}',
        },
    )

    answered = await execute(api, action_id, {"who": "x", "n": 1})

    assert answered.json() == {"first": "i-1", "flag": False}


async def test_a_translation_path_without_value_or_default_fails_as_processing(
    api: httpx.AsyncClient, receiver: CallbackReceiver
) -> None:
    action_id = await create_action(
        api,
        receiver.url,
        response={"translationMap": {"x": "$.nothing"}, "successTemplate": '{"x": ${x}}'},
    )

    answered = await execute(api, action_id, {"who": "x", "n": 1})

    assert answered.status_code == 500
    assert answered.json()["details"] == [{"errorCode": "ACTION.PROCESSING"}]
    assert "$.nothing" in answered.json()["message"]


async def test_input_that_breaks_the_contract_is_refused_field_by_field_and_not_sent(
    api: httpx.AsyncClient, receiver: CallbackReceiver
) -> None:
    schema = {
        "type": "object",
        "required": ["who", "n"],
        "properties": {"who": {"type": "string"}, "n": {"type": "integer"}},
        "additionalProperties": False,
    }
    action_id = await create_action(api, receiver.url, input_schema=schema)

    answered = await execute(api, action_id, {"n": "3", "extra": 1})

    assert answered.status_code == 400
    body = answered.json()
    assert body["code"] == "bad.request"
    assert [d["fieldName"] for d in body["details"]] == ["extra", "n", "who"]
    assert {d["errorCode"] for d in body["details"]} == {"ACTION.INPUT_VALIDATION"}
    assert receiver.requests == []


async def test_a_remote_5xx_is_a_500_with_the_remote_endpoint_detail(
    api: httpx.AsyncClient, receiver: CallbackReceiver
) -> None:
    receiver.answer = lambda _: (503, {"error": "down"}, 0.0)
    action_id = await create_action(api, receiver.url)

    answered = await execute(api, action_id, {"who": "x", "n": 1})

    assert answered.status_code == 500
    body = answered.json()
    assert body["code"] == "internal.server.error"
    assert body["details"] == [{"errorCode": "ACTION.REMOTE_ENDPOINT"}]
    inner = body["errors"][0]["message"]
    assert inner.startswith("REST call for action execute failed. Message: ")
    assert '{"error":"down"}' in inner
    assert body["contextId"] == answered.headers["ININ-Correlation-Id"]


async def test_an_unreachable_remote_endpoint_is_a_500_with_the_remote_endpoint_detail(
    api: httpx.AsyncClient,
) -> None:
    action_id = await create_action(api, f"http://127.0.0.1:{free_port()}/nobody")

    answered = await execute(api, action_id, {"who": "x", "n": 1})

    assert answered.status_code == 500
    assert answered.json()["details"] == [{"errorCode": "ACTION.REMOTE_ENDPOINT"}]


async def test_a_remote_4xx_keeps_its_status(
    api: httpx.AsyncClient, receiver: CallbackReceiver
) -> None:
    receiver.answer = lambda _: (404, {"error": "no such thing"}, 0.0)
    action_id = await create_action(api, receiver.url)

    answered = await execute(api, action_id, {"who": "x", "n": 1})

    assert answered.status_code == 404
    assert answered.json()["details"] == [{"errorCode": "ACTION.REMOTE_ENDPOINT"}]


async def test_refused_credentials_answer_in_the_authentication_shape(
    api: httpx.AsyncClient, receiver: CallbackReceiver
) -> None:
    receiver.answer = lambda _: (401, {"error": "bad key"}, 0.0)
    action_id = await create_action(api, receiver.url)

    answered = await execute(api, action_id, {"who": "x", "n": 1})

    assert answered.status_code == 400
    body = answered.json()
    assert body["errorCode"] == "INVALID_CREDENTIALS"
    assert body["details"] == [{"errorCode": "ACTION.AUTHENTICATION"}]
    assert body["correlationId"] == answered.headers["ININ-Correlation-Id"]
    assert "bad key" in body["errors"][0]["userMessage"]


async def test_an_answer_slower_than_timeout_seconds_is_a_408_timeout(
    api: httpx.AsyncClient, receiver: CallbackReceiver
) -> None:
    receiver.answer = lambda _: (200, {}, 3.0)
    action_id = await create_action(api, receiver.url, timeout_seconds=1)

    started = time.monotonic()
    answered = await execute(api, action_id, {"who": "x", "n": 1})
    elapsed = time.monotonic() - started

    assert answered.status_code == 408
    assert answered.json()["details"] == [{"errorCode": "ACTION.TIMEOUT"}]
    assert 1 <= elapsed < 3


async def test_the_body_must_be_an_object_of_input_values(
    api: httpx.AsyncClient, receiver: CallbackReceiver
) -> None:
    action_id = await create_action(api, receiver.url)

    answered = await execute(api, action_id, ["not", "an", "object"])

    assert answered.status_code == 400
    assert receiver.requests == []


async def test_execute_of_an_unknown_action_is_404(api: httpx.AsyncClient) -> None:
    answered = await execute(api, "custom_-_missing", {})

    assert answered.status_code == 404


async def test_flatten_returns_the_output_in_architects_flattened_form(
    samples: httpx.AsyncClient,
) -> None:
    answered = await samples.post(
        f"/api/v2/integrations/actions/{SLOW_REPORT}/execute",
        params={"flatten": "true"},
        json={"reportName": "r", "delaySeconds": 0},
    )

    assert answered.json() == {"reportId": "rpt-r", "rows": 42}


async def test_test_reports_every_step_and_the_final_result(samples: httpx.AsyncClient) -> None:
    answered = await samples.post(
        f"/api/v2/integrations/actions/{LOOKUP_ACCOUNT}/test", json={"accountId": "A-1"}
    )

    result = answered.json()
    assert answered.status_code == 200
    assert result["success"] is True
    assert [op["step"] for op in result["operations"]] == list(range(1, 9))
    assert result["operations"][1]["result"].endswith(
        "/sandbox/stub/accounts/A-1?limit=&includeClosed="
    )
    assert result["operations"][4]["result"]["statusCode"] == 200
    assert result["finalResult"]["accountId"] == "A-1"


async def test_test_of_a_failing_action_answers_200_with_the_failed_step(
    samples: httpx.AsyncClient,
) -> None:
    answered = await samples.post(
        f"/api/v2/integrations/actions/{LOOKUP_ACCOUNT}/test", json={"accountId": "unknown-7"}
    )

    result = answered.json()
    assert answered.status_code == 200
    assert result["success"] is False
    assert result["operations"][-1]["name"] == "Execute request"
    assert result["operations"][-1]["success"] is False
    assert result["error"]["details"] == [{"errorCode": "ACTION.REMOTE_ENDPOINT"}]
    assert "finalResult" not in result


async def test_test_fails_an_output_that_breaks_the_success_schema(
    api: httpx.AsyncClient, receiver: CallbackReceiver, sandbox: RunningSandbox
) -> None:
    receiver.answer = lambda _: (200, {"count": "three"}, 0.0)
    action_id = await create_action(api, receiver.url)
    sandbox.state.integrations.action(action_id).contract["output"]["successSchema"] = {
        "type": "object",
        "properties": {"count": {"type": "integer"}},
    }

    body = {"who": "x", "n": 1}
    tested = (await api.post(f"/api/v2/integrations/actions/{action_id}/test", json=body)).json()
    executed = await execute(api, action_id, body)

    assert tested["success"] is False
    assert tested["operations"][-1]["name"] == "Validate output against schema"
    assert executed.json() == {"count": "three"}
