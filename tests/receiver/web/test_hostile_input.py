"""Input that no database could store or compare is refused with a 4xx, never a 500.

Found while fuzzing the API contract; every case runs on SQLite and on PostgreSQL
(which refuses NUL characters and over-long values where SQLite stores anything).
"""

import httpx

from receiver.serving.server import RunningServer
from tests.conftest import CALLBACK_TOKEN


async def test_nul_characters_in_callback_fields_are_refused(client: httpx.AsyncClient) -> None:
    refused = await client.post(
        "/webhooks/genesys", json={"event": "start", "launchId": "l-1\u0000"}
    )
    assert refused.status_code == 422
    assert refused.json()["detail"] == [
        {"field": "launchId", "problem": "must not contain NUL characters (\\u0000)"}
    ]
    topic = "v2.detail.events.conversation.c\u00001.flow.start"
    notification = {"topicName": topic, "eventBody": {"eventTime": 1795371592142}}
    assert (await client.post("/webhooks/genesys", json=notification)).status_code == 422
    # Inside the kept raw payload a NUL is harmless: it stays escaped JSON.
    kept = await client.post(
        "/webhooks/genesys",
        json={"event": "start", "launchId": "l-1", "attributes": {"note": "\u0000"}},
    )
    assert kept.status_code == 200


async def test_an_overlong_webhook_id_still_keeps_the_dead_letter(
    client: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    long_id = "msg_" + "x" * 300
    response = await client.post(
        "/webhooks/genesys", json={"no": "event"}, headers={"webhook-id": long_id}
    )
    assert response.status_code == 422
    (letter,) = (await api.get("/api/v1/dead-letters")).json()["items"]
    assert letter["webhookId"] == long_id[:255]


async def test_nul_characters_in_paths_and_queries_are_refused(api: httpx.AsyncClient) -> None:
    for path in (
        "/api/v1/launches/l%00",
        "/api/v1/launches/l%00/transitions",
        "/api/v1/conversations/c%00/transitions",
        "/api/v1/flows/f%00/stats",
    ):
        response = await api.get(path)
        assert (response.status_code, response.json()["error"]) == (404, "not_found"), path
    terminate = await api.post("/api/v1/launches/l%00/terminate")
    assert terminate.status_code == 404
    for path in ("/api/v1/events?conversationId=c%00", "/api/v1/launches?flowId=%00"):
        response = await api.get(path)
        assert (response.status_code, response.json()["error"]) == (400, "invalid_query"), path


async def test_a_limit_in_other_digits_is_a_bad_request(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/v1/events", params={"limit": "²"})
    assert (response.status_code, response.json()["error"]) == (400, "invalid_query")


async def test_an_event_type_that_is_not_a_string_is_uninterpretable(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/webhooks/genesys", json={"eventType": {}, "launchId": "l-1"})
    assert response.status_code == 422
    assert response.json()["detail"] == [{"field": "eventType", "problem": "must be a string"}]


async def test_an_empty_or_null_flow_id_is_an_invalid_launch(
    launch_api: httpx.AsyncClient,
) -> None:
    for flow_id in ("", None):
        response = await launch_api.post("/api/v1/launches", json={"flowId": flow_id})
        assert response.status_code == 422
        assert response.json()["detail"] == [{"field": "flowId", "problem": "is required"}]


async def test_unknown_paths_and_methods_answer_json(server: RunningServer) -> None:
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {CALLBACK_TOKEN}"}
    ) as http:
        missing = await http.get("/nothing")
        assert (missing.status_code, missing.json()["error"]) == (404, "not_found")
        wrong = await http.put("/webhooks/genesys")
        assert (wrong.status_code, wrong.json()["error"]) == (405, "method_not_allowed")
        assert wrong.headers["allow"] == "POST"
