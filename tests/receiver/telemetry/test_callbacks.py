import logging

import httpx
import pytest

from receiver.app import create_app
from receiver.serving.server import running_server
from tests.conftest import CALLBACK_TOKEN, settings_for
from tests.receiver.web.test_metrics import scrape, value


def refusals(
    caplog: pytest.LogCaptureFixture, action: str = "callback.refused"
) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "action", None) == action]


async def test_a_refused_callback_is_counted_once_and_logged_once_without_its_token(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    response = await client.post(
        "/webhooks/genesys",
        json={"event": "start", "launchId": "l-1"},
        headers={"Authorization": "Bearer wrong-token-987", "webhook-id": "msg_1"},
    )
    assert response.status_code == 401
    [line] = refusals(caplog)
    assert line.levelno == logging.WARNING
    assert (line.status, line.reason, line.code) == (401, "unauthorized", "unauthorized")  # type: ignore[attr-defined]
    assert line.remote_address == "127.0.0.1"  # type: ignore[attr-defined]
    assert line.webhook_id == "msg_1"  # type: ignore[attr-defined]
    assert "wrong-token-987" not in caplog.text and CALLBACK_TOKEN not in caplog.text
    assert "launchId" not in caplog.text
    samples = await scrape(str(client.base_url))
    assert value(samples, "flowtrack_callbacks_total", result="refused", reason="unauthorized") == 1
    refused = [
        count
        for (name, labels), count in samples.items()
        if name == "flowtrack_callbacks_total" and ("result", "refused") in labels
    ]
    assert sum(refused) == 1


@pytest.mark.parametrize(
    ("content", "headers", "reason", "status"),
    [
        (b'{"event": "start"}', {"content-type": "text/plain"}, "unsupported_media_type", 415),
        (b"x" * 2000, {"content-type": "application/json"}, "too_large", 413),
        (b"{nope", {"content-type": "application/json"}, "malformed_json", 400),
        (b'{"what": 1}', {"content-type": "application/json"}, "uninterpretable", 422),
    ],
)
async def test_each_kind_of_refusal_has_its_reason(
    database_url: str,
    caplog: pytest.LogCaptureFixture,
    content: bytes,
    headers: dict[str, str],
    reason: str,
    status: int,
) -> None:
    caplog.set_level(logging.INFO)
    app = create_app(settings_for(database_url, FLOWTRACK_MAX_BODY_BYTES="1000"))
    async with (
        running_server(app) as server,
        httpx.AsyncClient(
            base_url=server.base_url, headers={"Authorization": f"Bearer {CALLBACK_TOKEN}"}
        ) as http,
    ):
        response = await http.post("/webhooks/genesys", content=content, headers=headers)
        samples = await scrape(server.base_url)
    assert response.status_code == status
    [line] = refusals(caplog)
    assert (line.reason, line.status) == (reason, status)  # type: ignore[attr-defined]
    assert value(samples, "flowtrack_callbacks_total", result="refused", reason=reason) == 1


async def test_a_dead_letter_is_logged_when_stored(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await client.post("/webhooks/genesys", json={"what": 1}, headers={"webhook-id": "msg_9"})
    [line] = refusals(caplog, "dead_letter.stored")
    assert line.webhook_id == "msg_9"  # type: ignore[attr-defined]


async def test_a_flood_of_refusals_writes_a_bounded_number_of_lines_then_a_count(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    app = create_app(settings_for(database_url))
    async with running_server(app) as server, httpx.AsyncClient(base_url=server.base_url) as http:
        for _ in range(30):
            await http.post("/webhooks/genesys", json={"event": "start"})
        samples = await scrape(server.base_url)
        assert len(refusals(caplog)) == 10
    # The window's summary is written at the latest when the app stops.
    lines = refusals(caplog)
    assert len(lines) == 11
    assert lines[-1].getMessage().startswith("20 more suppressed")
    assert lines[-1].suppressed == 20  # type: ignore[attr-defined]
    assert (
        value(samples, "flowtrack_callbacks_total", result="refused", reason="unauthorized") == 30
    )
