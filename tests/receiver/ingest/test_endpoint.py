import asyncio
import shutil
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
import pytest
from psycopg import sql

from receiver.app import create_app
from receiver.ingest.credentials import sign
from receiver.serving.server import RunningServer, running_server
from receiver.settings import WebhookSecret
from tests.conftest import CALLBACK_TOKEN, POSTGRES_URL, READ_KEY, SECRET_KEY, settings_for


def canonical(**fields: Any) -> dict[str, Any]:
    body = {
        "event": "node_enter",
        "eventId": str(uuid.uuid4()),
        "launchId": "l-1",
        "flowExecutionId": "x-1",
        "conversationId": "c-1",
        "flowId": "f-1",
        "nodeId": "n-1",
        "nodeType": "Action",
        "nodeName": "Lookup customer",
        "occurredAt": "2026-03-02T10:15:00.120Z",
    }
    body.update(fields)
    return body


async def events(client: httpx.AsyncClient, **params: str) -> list[dict[str, Any]]:
    response = await client.get(
        "/api/v1/events", params=params, headers={"Authorization": f"Bearer {READ_KEY}"}
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_a_callback_is_stored_and_acknowledged(client: httpx.AsyncClient) -> None:
    body = canonical(attributes={"customer": "4711"})
    response = await client.post("/webhooks/genesys", json=body)
    assert response.status_code == 200
    assert response.json() == {"accepted": 1, "duplicates": 0, "command": "continue"}
    [stored] = await events(client)
    assert stored["kind"] == "node_enter"
    assert stored["source"] == "data_action"
    assert stored["nodeName"] == "Lookup customer"
    assert stored["occurredAt"] == "2026-03-02T10:15:00.120000Z"
    assert stored["raw"] == body


async def test_duplicate_event_is_stored_once(client: httpx.AsyncClient) -> None:
    body = canonical()
    first = await client.post("/webhooks/genesys", json=body)
    again = await client.post("/webhooks/genesys", json=body)
    assert first.json()["accepted"] == 1
    assert again.json() == {"accepted": 0, "duplicates": 1, "command": "continue"}
    assert len(await events(client)) == 1


async def test_a_batch_is_stored_with_duplicates_inside_it_counted(
    client: httpx.AsyncClient,
) -> None:
    one, two = canonical(nodeId="a"), canonical(nodeId="b")
    response = await client.post("/webhooks/genesys", json=[one, two, one])
    assert response.json() == {"accepted": 2, "duplicates": 1, "command": "continue"}
    assert [e["nodeId"] for e in await events(client)] == ["a", "b"]


async def test_seed_style_callbacks_without_ids_are_deduplicated_by_their_fields(
    client: httpx.AsyncClient,
) -> None:
    body = {
        "eventType": "flow:node:exit",
        "conversationId": "c-7",
        "nodeId": "menu",
        "occurredAt": "2026-03-02T10:15:02Z",
    }
    await client.post("/webhooks/genesys", json=body)
    again = await client.post("/webhooks/genesys", json=body)
    assert again.json()["duplicates"] == 1
    [stored] = await events(client, conversationId="c-7")
    assert stored["kind"] == "node_exit"


async def test_concurrent_deliveries_are_each_committed_exactly_once(
    client: httpx.AsyncClient,
) -> None:
    bodies = [canonical(nodeId=f"n{i}") for i in range(200)]
    responses = await asyncio.gather(
        *(client.post("/webhooks/genesys", json=body) for body in bodies + bodies[:50])
    )
    assert all(response.status_code == 200 for response in responses)
    assert sum(r.json()["accepted"] for r in responses) == 200
    assert sum(r.json()["duplicates"] for r in responses) == 50
    stored = await events(client, limit="1000")
    assert sorted(e["nodeId"] for e in stored) == sorted(f"n{i}" for i in range(200))


async def test_a_signed_delivery_is_accepted_and_its_retry_is_a_duplicate(
    client: httpx.AsyncClient,
) -> None:
    body = orjson.dumps({"event": "start", "launchId": "l-9"})
    stamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "webhook-id": "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
        "webhook-timestamp": str(stamp),
        "webhook-signature": sign(
            WebhookSecret(SECRET_KEY), "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", stamp, body
        ),
        "authorization": "",
    }
    first = await client.post("/webhooks/genesys", content=body, headers=headers)
    again = await client.post("/webhooks/genesys", content=body, headers=headers)
    assert first.json()["accepted"] == 1
    assert again.json()["duplicates"] == 1


async def test_a_notification_message_is_accepted(client: httpx.AsyncClient) -> None:
    message = {
        "topicName": "v2.detail.events.conversation.c-5.flow.end",
        "version": "2",
        "eventBody": {
            "eventTime": 1772446504870,
            "conversationId": "c-5",
            "sessionId": "s-1",
            "flowId": "f-5",
            "exitReason": "FLOW_ERROR_EXIT",
        },
        "metadata": {"CorrelationId": "corr-1"},
    }
    response = await client.post("/webhooks/genesys", json=message)
    assert response.json()["accepted"] == 2
    stored = await events(client, conversationId="c-5")
    assert [(e["kind"], e["source"]) for e in stored] == [
        ("error", "notification"),
        ("complete", "notification"),
    ]


async def test_an_eventbridge_envelope_is_unwrapped_and_matches_the_websocket_delivery(
    client: httpx.AsyncClient,
) -> None:
    message = {
        "topicName": "v2.detail.events.conversation.c-6.flow.start",
        "version": "2",
        "eventBody": {"eventTime": 1772446504870, "conversationId": "c-6", "sessionId": "s-6"},
        "metadata": {"CorrelationId": "corr-6"},
    }
    envelope = {
        "version": "0",
        "id": "6c0d3f8e-1b2a-4c5d-9e8f-7a6b5c4d3e2f",
        "detail-type": "v2.detail.events.conversation.{id}.flow.start",
        "source": "aws.partner/genesys.com/cloud/org/flow-events",
        "account": "123456789012",
        "time": "2026-03-02T10:15:05Z",
        "region": "us-east-1",
        "resources": [],
        "detail": message,
    }
    first = await client.post("/webhooks/genesys", json=envelope)
    assert first.json()["accepted"] == 1
    # The same fact over the WebSocket path is recognised as already stored.
    again = await client.post("/webhooks/genesys", json=message)
    assert again.json()["duplicates"] == 1
    [stored] = await events(client, conversationId="c-6")
    assert stored["source"] == "eventbridge"


async def test_malformed_json_is_a_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/webhooks/genesys", content=b'{"event": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "malformed_json"


async def test_missing_credentials_are_a_401_and_nothing_is_stored(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/webhooks/genesys", json=canonical(), headers={"authorization": ""}
    )
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert await events(client) == []
    letters = await client.get(
        "/api/v1/dead-letters", headers={"Authorization": f"Bearer {READ_KEY}"}
    )
    assert letters.json()["items"] == []


async def test_a_bad_token_is_a_401(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/webhooks/genesys",
        json=canonical(),
        headers={"authorization": "Bearer not-the-right-token-at-all"},
    )
    assert response.status_code == 401
    assert response.json()["message"] == "invalid callback token"


async def test_a_body_over_the_limit_is_a_413(client: httpx.AsyncClient) -> None:
    response = await client.post("/webhooks/genesys", json=canonical(message="x" * (1024 * 1024)))
    assert response.status_code == 413
    assert "limit is 1048576 bytes" in response.json()["message"]


async def test_a_chunked_body_over_the_limit_is_a_413(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(40):
            yield b" " * 32768

    response = await client.post(
        "/webhooks/genesys", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


async def test_other_methods_on_the_callback_path_are_a_json_405(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/webhooks/genesys")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["error"] == "method_not_allowed"


async def test_a_sender_that_hangs_up_mid_body_stores_nothing(
    server: RunningServer, client: httpx.AsyncClient
) -> None:
    body = orjson.dumps(canonical())
    _, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(
        b"POST /webhooks/genesys HTTP/1.1\r\nHost: flowtrack\r\n"
        b"Content-Type: application/json\r\nAuthorization: Bearer %s\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (CALLBACK_TOKEN.encode(), len(body), body[:20])
    )
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    # The server goes on serving, and the half-sent event was not stored.
    response = await client.post("/webhooks/genesys", json=canonical(eventId="after"))
    assert response.json()["accepted"] == 1
    assert [item["raw"]["eventId"] for item in await events(client)] == ["after"]


async def test_a_body_that_is_not_json_is_a_415(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/webhooks/genesys", content=b"event=start", headers={"content-type": "text/plain"}
    )
    assert response.status_code == 415
    assert "application/json" in response.json()["message"]


async def test_valid_json_that_is_no_event_is_a_422_and_kept_as_a_dead_letter(
    client: httpx.AsyncClient,
) -> None:
    body = {"event": "node_wander", "launchId": "l-1"}
    response = await client.post("/webhooks/genesys", json=body)
    assert response.status_code == 422
    answer = response.json()
    assert answer["error"] == "uninterpretable_event"
    assert answer["detail"][0]["field"] == "event"
    letters = await client.get(
        "/api/v1/dead-letters", headers={"Authorization": f"Bearer {READ_KEY}"}
    )
    [letter] = letters.json()["items"]
    assert letter["body"] == body
    assert letter["errors"] == answer["detail"]
    assert await events(client) == []


async def test_a_forwarded_heartbeat_is_acknowledged_counted_and_not_stored(
    client: httpx.AsyncClient,
) -> None:
    heartbeat = {"topicName": "channel.metadata", "eventBody": {"message": "WebSocket Heartbeat"}}
    response = await client.post("/webhooks/genesys", json=heartbeat)
    assert response.status_code == 200
    assert response.json() == {"accepted": 0, "duplicates": 0, "command": "continue"}
    letters = await client.get(
        "/api/v1/dead-letters", headers={"Authorization": f"Bearer {READ_KEY}"}
    )
    assert letters.json()["items"] == []
    assert await events(client) == []
    metrics = await client.get("/metrics", headers={"Authorization": f"Bearer {READ_KEY}"})
    assert 'flowtrack_callbacks_total{reason="",result="ignored"} 1.0' in metrics.text


async def test_one_bad_item_keeps_the_whole_batch_out_of_the_events(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/webhooks/genesys", json=[canonical(), {"event": "start"}, "not an object"]
    )
    assert response.status_code == 422
    fields = [problem["field"] for problem in response.json()["detail"]]
    assert fields == ["[1].launchId", "[2]"]
    assert await events(client) == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_locked_sqlite_database_is_a_503_with_retry_after(database_url: str) -> None:
    settings = settings_for(database_url, FLOWTRACK_SQLITE_BUSY_TIMEOUT_MS="100")
    path = database_url.removeprefix("sqlite:///")
    async with (
        running_server(create_app(settings)) as server,
        httpx.AsyncClient(
            base_url=server.base_url,
            headers={"authorization": f"Bearer {settings.callback_tokens[0]}"},
        ) as client,
    ):
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            response = await client.post("/webhooks/genesys", json=canonical())
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert response.status_code == 503
        assert response.headers["retry-after"] == "5"
        assert response.json()["error"] == "storage_unavailable"
        # Accepted once the database is back: nothing was lost, the sender retries.
        retried = await client.post("/webhooks/genesys", json=canonical())
        assert retried.status_code == 200


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_an_unreachable_postgres_database_is_a_503(database_url: str) -> None:
    settings = settings_for(database_url)
    name = database_url.rsplit("/", 1)[1]
    async with (
        running_server(create_app(settings)) as server,
        httpx.AsyncClient(
            base_url=server.base_url,
            headers={"authorization": f"Bearer {settings.callback_tokens[0]}"},
        ) as client,
    ):
        assert (await client.post("/webhooks/genesys", json=canonical())).status_code == 200
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            admin.execute(
                sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(sql.Identifier(name))
            )
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
            )
        try:
            response = await client.post("/webhooks/genesys", json=canonical())
        finally:
            with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
                admin.execute(
                    sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(sql.Identifier(name))
                )
        assert response.status_code == 503
        assert response.headers["retry-after"] == "5"
        retried = await client.post("/webhooks/genesys", json=canonical())
        assert retried.status_code == 200
        # The writer's new connection commits as the first did: the API, reading over
        # another connection, sees both events.
        assert len(await events(client)) == 2


async def test_callbacks_are_stored_with_background_checkpoints_on_sqlite(
    tmp_path: Path, sqlite_template: Path
) -> None:
    path = tmp_path / "flowtrack.db"
    shutil.copyfile(sqlite_template, path)
    settings = settings_for(f"sqlite:///{path}", FLOWTRACK_SQLITE_CHECKPOINTS="background")
    app = create_app(settings)
    async with (
        running_server(app) as server,
        httpx.AsyncClient(
            base_url=server.base_url, headers={"Authorization": f"Bearer {CALLBACK_TOKEN}"}
        ) as client,
    ):
        responses = await asyncio.gather(
            *(
                client.post("/webhooks/genesys", json=canonical(eventId=f"bg-{n}"))
                for n in range(50)
            )
        )
        assert [r.json()["accepted"] for r in responses] == [1] * 50
        assert len(await events(client)) == 50
        services = app.state.services
        assert services.writer._checkpointer is not None
        # No request's commit checkpoints: the writer's checkpointer does.
        with services.event_store.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
