from typing import Any

import orjson
import pytest

from receiver.ingest.endpoint import MalformedJSON
from receiver.web.responses import send_error
from storage.errors import StorageUnavailable

SCOPE = {"type": "http", "method": "POST", "path": "/webhooks/genesys", "headers": []}


async def answer(exc: Exception, sent: list[dict[str, Any]]) -> None:
    """Run send_error for ``exc`` as a bare ASGI endpoint would; ``sent`` gets the messages."""

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await send_error(dict(SCOPE), receive, send, exc)


def parts(sent: list[dict[str, Any]]) -> tuple[int, dict[str, str], dict[str, Any]]:
    start, body = sent
    headers = {name.decode(): value.decode() for name, value in start["headers"]}
    return start["status"], headers, orjson.loads(body["body"])


async def test_a_flowtrack_error_is_answered_with_its_status_and_code() -> None:
    sent: list[dict[str, Any]] = []
    await answer(MalformedJSON("body is not valid JSON: oops"), sent)
    status, headers, body = parts(sent)
    assert status == 400
    assert headers["content-type"] == "application/json"
    assert body == {"error": "malformed_json", "message": "body is not valid JSON: oops"}


async def test_an_unavailable_database_is_a_503_with_retry_after() -> None:
    sent: list[dict[str, Any]] = []
    await answer(StorageUnavailable("database unavailable: locked"), sent)
    status, headers, body = parts(sent)
    assert status == 503
    assert headers["retry-after"] == "5"
    assert body["error"] == "storage_unavailable"


async def test_a_bug_is_answered_as_json_and_raised_again_for_the_server_log() -> None:
    sent: list[dict[str, Any]] = []
    with pytest.raises(ZeroDivisionError):
        await answer(ZeroDivisionError("boom"), sent)
    status, _, body = parts(sent)
    assert status == 500
    assert body["error"] == "internal_error"
