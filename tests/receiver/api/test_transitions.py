import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine
from starlette.datastructures import QueryParams

from receiver.api.transitions import PathQuery
from receiver.web.pagination import Query
from storage import launches as store
from storage.launches import NewLaunch
from tests.conftest import READ_KEY

FLOW = "f-1"


def event(kind: str, second: int, node: str | None = None, **fields: Any) -> dict[str, Any]:
    return {
        "event": kind,
        "eventId": f"{kind}-{node}-{second}-{fields.get('conversationId', 'c-1')}",
        "conversationId": "c-1",
        "flowId": FLOW,
        "nodeId": node,
        "nodeType": "Task" if node else None,
        "nodeName": node.title() if node else None,
        "occurredAt": f"2026-03-02T10:15:{second:02}.250Z",
        **fields,
    }


async def post(client: httpx.AsyncClient, *bodies: dict[str, Any]) -> None:
    response = await client.post("/webhooks/genesys", json=list(bodies))
    assert response.status_code == 200, response.text


async def get(client: httpx.AsyncClient, path: str, **params: str) -> httpx.Response:
    return await client.get(path, params=params, headers={"Authorization": f"Bearer {READ_KEY}"})


def new_launch(engine: Engine) -> str:
    now = datetime(2026, 3, 2, 10, 15, tzinfo=UTC)
    row, _ = store.insert_launch(
        engine,
        NewLaunch(
            id=str(uuid.uuid4()),
            flow_id=FLOW,
            flow_version=None,
            name=None,
            input_data=None,
            idempotency_key=None,
            timeout_seconds=None,
            idle_timeout_seconds=None,
            created_at=now,
            deadline_at=now + timedelta(hours=1),
        ),
    )
    return str(row["id"])


async def test_a_launch_shows_the_path_its_events_took(
    client: httpx.AsyncClient, engine: Engine
) -> None:
    launch_id = new_launch(engine)
    mine = {"launchId": launch_id}
    await post(
        client,
        event("complete", 9, outcome="completed", **mine),
        event("node_exit", 3, "lookup", outputPath="found", **mine),
        event("start", 1, **mine),
        event("node_enter", 2, "lookup", **mine),
        event("node_enter", 4, "lookup", **mine),
    )
    response = await get(client, f"/api/v1/launches/{launch_id}/transitions")
    assert response.status_code == 200
    body = response.json()
    assert (body["launchId"], body["flowId"], body["nodeSource"]) == (
        launch_id,
        FLOW,
        "data_action",
    )
    assert body["nextCursor"] is None
    start, first, second, complete = body["items"]
    assert first == {
        "type": "node",
        "at": "2026-03-02T10:15:02.250000Z",
        "nodeId": "lookup",
        "nodeType": "Task",
        "nodeName": "Lookup",
        "enteredAt": "2026-03-02T10:15:02.250000Z",
        "exitedAt": "2026-03-02T10:15:03.250000Z",
        "durationMs": 1000.0,
        "outputPath": "found",
        "outcome": "exited",
        "errorCode": None,
        "errorMessage": None,
        "source": "data_action",
        "flowId": FLOW,
        "eventIds": first["eventIds"],
    }
    assert len(first["eventIds"]) == 2
    assert (second["nodeId"], second["outcome"], second["durationMs"]) == (
        "lookup",
        "missing_exit",
        None,
    )
    assert (start["type"], complete["type"], complete["outcome"]) == (
        "start",
        "complete",
        "completed",
    )


async def test_a_conversations_path_comes_a_page_at_a_time(client: httpx.AsyncClient) -> None:
    await post(
        client,
        *(event("node_enter", 2 * index, f"n{index}") for index in range(5)),
        *(event("node_exit", 2 * index + 1, f"n{index}") for index in range(5)),
    )
    whole = (await get(client, "/api/v1/conversations/c-1/transitions")).json()
    assert [item["nodeId"] for item in whole["items"]] == ["n0", "n1", "n2", "n3", "n4"]
    seen: list[str] = []
    params = {"limit": "2"}
    while True:
        page = (await get(client, "/api/v1/conversations/c-1/transitions", **params)).json()
        assert len(page["items"]) <= 2
        seen += [item["nodeId"] for item in page["items"]]
        if page["nextCursor"] is None:
            break
        params = {"limit": "2", "cursor": page["nextCursor"]}
    assert seen == ["n0", "n1", "n2", "n3", "n4"]


async def test_unknown_launches_conversations_and_flows_are_a_404(
    client: httpx.AsyncClient,
) -> None:
    for path, code in (
        ("/api/v1/launches/nope/transitions", "launch_not_found"),
        ("/api/v1/conversations/nope/transitions", "conversation_not_found"),
        ("/api/v1/flows/nope/stats", "flow_not_found"),
    ):
        response = await get(client, path)
        assert response.status_code == 404, path
        assert response.json()["error"] == code
        assert "nope" in response.json()["message"]


async def test_bad_parameters_are_a_400_naming_each_one(client: httpx.AsyncClient) -> None:
    await post(client, event("start", 1))
    transitions = await get(
        client, "/api/v1/conversations/c-1/transitions", limit="0", cursor="zz", color="red"
    )
    assert transitions.status_code == 400
    fields = sorted(problem["field"] for problem in transitions.json()["detail"])
    assert fields == ["color", "cursor", "limit"]
    path = "/api/v1/conversations/c-1/transitions"
    forged = await get(
        client, path, cursor=Query.of(QueryParams(), PathQuery, path).encode(["x", 1])
    )
    assert [problem["field"] for problem in forged.json()["detail"]] == ["cursor"]
    stats = await get(
        client,
        f"/api/v1/flows/{FLOW}/stats",
        since="2026-03-02T11:00:00Z",
        until="2026-03-02T10:00:00Z",
    )
    assert stats.status_code == 400
    assert [problem["field"] for problem in stats.json()["detail"]] == ["until"]
    flows = await get(client, "/api/v1/flows", cursor="eyJ9", limit="abc")
    assert sorted(problem["field"] for problem in flows.json()["detail"]) == ["cursor", "limit"]


async def test_history_endpoints_need_a_read_key(client: httpx.AsyncClient) -> None:
    for path in (
        "/api/v1/launches/x/transitions",
        "/api/v1/conversations/c-1/transitions",
        "/api/v1/flows/f-1/stats",
        "/api/v1/flows",
    ):
        response = await client.get(path)  # the client sends the callback token
        assert response.status_code == 401, path


async def test_flow_stats_and_the_flow_list_over_http(client: httpx.AsyncClient) -> None:
    await post(
        client,
        event("node_enter", 1, "ask"),
        event("node_exit", 2, "ask"),
        event("node_enter", 3, "ask", conversationId="c-2"),
        event("error", 4, "ask", conversationId="c-2", errorCode="E"),
        event("start", 5, flowId="f-2", conversationId="c-3"),
    )
    stats = (await get(client, f"/api/v1/flows/{FLOW}/stats")).json()
    assert (stats["flowId"], stats["since"], stats["until"], stats["runs"]) == (
        FLOW,
        None,
        None,
        2,
    )
    assert stats["launches"] == {"total": 0, "byState": stats["launches"]["byState"]}
    assert stats["nodes"] == [
        {
            "nodeId": "ask",
            "nodeType": "Task",
            "nodeName": "Ask",
            "entries": 2,
            "exits": 1,
            "errors": 1,
            "openNow": 0,
            # 1 s, as its log-spaced bin reads (within 4.4 %).
            "durationMs": {"p50": 980.586, "p95": 980.586, "max": 980.586, "visits": 2},
        }
    ]
    assert stats["paths"] == [{"nodeIds": ["ask"], "runs": 2}]
    assert stats["stuck"] == []
    assert stats["durationSample"] == {"runs": 2, "ofRuns": 2}
    # Windows are whole hours: since is rounded down, and the answer says so.
    ranged = await get(client, f"/api/v1/flows/{FLOW}/stats", since="2026-03-02T10:15:03Z")
    assert (ranged.json()["runs"], ranged.json()["window"]) == (
        2,
        {"since": "2026-03-02T10:00:00.000000Z", "until": None},
    )
    later = await get(client, f"/api/v1/flows/{FLOW}/stats", since="2026-03-02T11:00:00Z")
    assert later.json()["runs"] == 0
    first = (await get(client, "/api/v1/flows", limit="1")).json()
    assert [item["flowId"] for item in first["items"]] == [FLOW]
    assert first["items"][0]["events"] == 4
    assert first["items"][0]["lastSeenAt"] == "2026-03-02T10:15:04.250000Z"
    rest = (await get(client, "/api/v1/flows", cursor=first["nextCursor"])).json()
    assert [(item["flowId"], item["events"]) for item in rest["items"]] == [("f-2", 1)]
    assert rest["nextCursor"] is None
