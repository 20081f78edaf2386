from typing import Any

import httpx

from tests.conftest import READ_KEY


async def post(client: httpx.AsyncClient, *bodies: dict[str, Any]) -> None:
    response = await client.post("/webhooks/genesys", json=list(bodies))
    assert response.status_code == 200, response.text


def event(node: str, second: int, conversation: str = "c-1") -> dict[str, Any]:
    return {
        "event": "node_enter",
        "eventId": f"{node}@{second}",
        "conversationId": conversation,
        "flowId": "f-1",
        "nodeId": node,
        "occurredAt": f"2026-03-02T10:15:{second:02}Z",
    }


async def get(client: httpx.AsyncClient, path: str, params: Any) -> httpx.Response:
    return await client.get(path, params=params, headers={"Authorization": f"Bearer {READ_KEY}"})


LISTS = ["/api/v1/events", "/api/v1/launches", "/api/v1/dead-letters", "/api/v1/flows"]


async def test_a_parameter_given_twice_is_a_400_on_every_list(client: httpx.AsyncClient) -> None:
    for path in LISTS:
        response = await get(client, path, [("limit", "5"), ("limit", "6")])
        assert response.status_code == 400, path
        assert response.json()["detail"] == [{"field": "limit", "problem": "given more than once"}]
    states = await get(client, "/api/v1/launches", [("state", "running"), ("state", "failed")])
    assert states.json()["message"] == "state: given more than once"


async def test_since_later_than_until_is_a_400_on_every_list_that_takes_them(
    client: httpx.AsyncClient,
) -> None:
    window = {"since": "2026-03-02T11:00:00Z", "until": "2026-03-02T10:00:00Z"}
    for path in ("/api/v1/events", "/api/v1/launches", "/api/v1/flows/f-1/stats"):
        response = await get(client, path, window)
        assert response.status_code == 400, path
        assert response.json()["message"] == "until: must be later than since"


async def test_a_cursor_used_with_other_filters_is_a_400(client: httpx.AsyncClient) -> None:
    await post(client, *(event(f"n{i}", i) for i in range(4)), event("other", 5, "c-2"))
    first = (await get(client, "/api/v1/events", {"conversationId": "c-1", "limit": "2"})).json()
    cursor = first["nextCursor"]
    same = await get(client, "/api/v1/events", {"conversationId": "c-1", "cursor": cursor})
    assert [item["nodeId"] for item in same.json()["items"]] == ["n2", "n3"]
    other = await get(client, "/api/v1/events", {"conversationId": "c-2", "cursor": cursor})
    dropped = await get(client, "/api/v1/events", {"cursor": cursor})
    for response in (other, dropped):
        assert response.status_code == 400
        assert response.json()["detail"][0]["field"] == "cursor"
        assert "made for other filters" in response.json()["message"]


async def test_a_paths_cursor_does_not_page_another_path(client: httpx.AsyncClient) -> None:
    await post(client, *(event(f"n{i}", i) for i in range(3)), event("m", 1, "c-2"))
    first = await get(client, "/api/v1/conversations/c-1/transitions", {"limit": "1"})
    cursor = first.json()["nextCursor"]
    other = await get(client, "/api/v1/conversations/c-2/transitions", {"cursor": cursor})
    assert other.status_code == 400
    assert other.json()["detail"][0]["field"] == "cursor"
