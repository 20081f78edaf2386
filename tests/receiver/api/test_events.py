from typing import Any

import httpx

from tests.conftest import READ_KEY, WRITE_KEY


async def post(client: httpx.AsyncClient, *bodies: dict[str, Any]) -> None:
    response = await client.post("/webhooks/genesys", json=list(bodies))
    assert response.status_code == 200, response.text


def event(node: str, at: str, **fields: Any) -> dict[str, Any]:
    return {
        "event": "node_enter",
        "eventId": f"{node}@{at}",
        "conversationId": "c-1",
        "flowId": "f-1",
        "nodeId": node,
        "occurredAt": at,
        **fields,
    }


async def get(
    client: httpx.AsyncClient, path: str, key: str = READ_KEY, **params: str
) -> httpx.Response:
    return await client.get(path, params=params, headers={"Authorization": f"Bearer {key}"})


async def test_events_are_listed_by_time_of_occurrence_not_arrival(
    client: httpx.AsyncClient,
) -> None:
    await post(client, event("late", "2026-03-02T10:15:03Z"))
    await post(client, event("early", "2026-03-02T10:15:01Z"))
    await post(client, event("same-time-second", "2026-03-02T10:15:03Z"))
    items = (await get(client, "/api/v1/events")).json()["items"]
    assert [item["nodeId"] for item in items] == ["early", "late", "same-time-second"]


async def test_events_can_be_filtered_by_every_key(client: httpx.AsyncClient) -> None:
    await post(
        client,
        event("a", "2026-03-02T10:15:01Z", launchId="l-1", flowExecutionId="x-1"),
        event("b", "2026-03-02T10:15:02Z", conversationId="c-2", flowId="f-2"),
        event("c", "2026-03-02T10:15:03Z", event="error"),
    )
    cases = {
        "launchId=l-1": ["a"],
        "flowExecutionId=x-1": ["a"],
        "conversationId=c-2": ["b"],
        "flowId=f-2": ["b"],
        "kind=error": ["c"],
        "since=2026-03-02T10:15:02Z": ["b", "c"],
        "until=2026-03-02T10:15:02Z": ["a"],
    }
    for query, expected in cases.items():
        name, value = query.split("=", 1)
        items = (await get(client, "/api/v1/events", **{name: value})).json()["items"]
        assert [item["nodeId"] for item in items] == expected, query


async def test_pagination_walks_every_event_once(client: httpx.AsyncClient) -> None:
    await post(client, *(event(f"n{i:02}", f"2026-03-02T10:15:{i % 7:02}Z") for i in range(25)))
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "10"} | ({"cursor": cursor} if cursor else {})
        page = (await get(client, "/api/v1/events", **params)).json()
        seen.extend(item["nodeId"] for item in page["items"])
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(f"n{i:02}" for i in range(25))
    assert len(seen) == 25


async def test_bad_query_parameters_are_a_400_naming_each_one(client: httpx.AsyncClient) -> None:
    response = await get(
        client,
        "/api/v1/events",
        kind="wander",
        since="yesterday",
        limit="0",
        cursor="zz",
        color="red",
    )
    assert response.status_code == 400
    fields = sorted(problem["field"] for problem in response.json()["detail"])
    assert fields == ["color", "cursor", "kind", "limit", "since"]


async def test_the_api_needs_a_key(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/v1/events", headers={"Authorization": ""})
    wrong = await get(client, "/api/v1/events", key="not-a-key-of-ours-123")
    assert missing.status_code == wrong.status_code == 401
    assert missing.json()["message"].startswith("missing API key")
    assert missing.headers["www-authenticate"].startswith("Bearer")


async def test_read_and_write_keys_can_both_read(client: httpx.AsyncClient) -> None:
    assert (await get(client, "/api/v1/events", key=READ_KEY)).status_code == 200
    assert (await get(client, "/api/v1/events", key=WRITE_KEY)).status_code == 200


async def test_the_callback_token_is_not_an_api_key(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/events")  # the client sends the callback token
    assert response.status_code == 401


async def test_dead_letters_are_listed_newest_first_with_pagination(
    client: httpx.AsyncClient,
) -> None:
    for index in range(3):
        response = await client.post("/webhooks/genesys", json={"hello": index})
        assert response.status_code == 422
    page = (await get(client, "/api/v1/dead-letters", limit="2")).json()
    assert [item["body"] for item in page["items"]] == [{"hello": 2}, {"hello": 1}]
    rest = (await get(client, "/api/v1/dead-letters", cursor=page["nextCursor"])).json()
    assert [item["body"] for item in rest["items"]] == [{"hello": 0}]
    assert rest["nextCursor"] is None
