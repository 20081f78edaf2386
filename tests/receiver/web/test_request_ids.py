import logging

import httpx
import pytest

from receiver.logs import RequestContext


async def test_a_callers_request_id_is_echoed_on_api_and_callback_responses(
    client: httpx.AsyncClient,
) -> None:
    headers = {"X-Request-Id": "req-4711"}
    api = await client.get("/healthz", headers=headers)
    callback = await client.post("/webhooks/genesys", json={"event": "start"}, headers=headers)
    missing = await client.get("/no/such/route", headers=headers)
    assert api.headers["x-request-id"] == "req-4711"
    assert callback.headers["x-request-id"] == "req-4711"
    assert missing.status_code == 404
    assert missing.headers["x-request-id"] == "req-4711"


@pytest.mark.parametrize("given", [None, b"", b"has space", b"x" * 200, b"latin-\xe9"])
async def test_a_request_without_a_usable_id_gets_a_new_one(
    client: httpx.AsyncClient, given: bytes | None
) -> None:
    headers = {} if given is None else {"X-Request-Id": given}
    first = await client.get("/healthz", headers=headers)
    second = await client.get("/healthz", headers=headers)
    made = first.headers["x-request-id"]
    assert len(made) == 16 and made.encode() != given
    assert second.headers["x-request-id"] != made


async def test_the_request_id_is_on_the_log_lines_of_its_request(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    caplog.handler.addFilter(RequestContext())
    await client.post(
        "/webhooks/genesys",
        json={"event": "start"},
        headers={"Authorization": "Bearer wrong", "X-Request-Id": "req-1"},
    )
    await client.post("/webhooks/genesys", content=b"{", headers={"X-Request-Id": "req-2"})
    refused = [r for r in caplog.records if getattr(r, "action", None) == "callback.refused"]
    assert [r.request_id for r in refused] == ["req-1", "req-2"]  # type: ignore[attr-defined]
