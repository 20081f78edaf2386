from typing import Any

import httpx

from receiver.serving.server import RunningServer
from tests.conftest import CALLBACK_TOKEN, FLOW_HANGS, WRITE_KEY
from tests.receiver.api.test_transitions import FLOW, event, get, post


async def test_flows_and_their_stats_carry_the_names_genesys_gives_them(
    launcher: tuple[RunningServer, Any],
) -> None:
    server, _ = launcher
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {WRITE_KEY}"}
    ) as api:
        assert (await api.post("/api/v1/launches", json={"flowId": FLOW_HANGS})).status_code == 201
        callback = await api.post(
            "/webhooks/genesys",
            json={"event": "start", "flowId": "not-a-genesys-flow", "conversationId": "c-1"},
            headers={"Authorization": f"Bearer {CALLBACK_TOKEN}"},
        )
        assert callback.status_code == 200, callback.text
        flows = (await api.get("/api/v1/flows")).json()["items"]
        assert {flow["flowId"]: flow["name"] for flow in flows} == {
            FLOW_HANGS: "Hangs at wait",
            "not-a-genesys-flow": None,
        }
        stats = (await api.get(f"/api/v1/flows/{FLOW_HANGS}/stats")).json()
        assert stats["name"] == "Hangs at wait"


async def test_without_genesys_credentials_flows_have_no_names(api: httpx.AsyncClient) -> None:
    await api.post(
        "/webhooks/genesys",
        json={"event": "start", "flowId": FLOW_HANGS, "conversationId": "c-1"},
        headers={"Authorization": f"Bearer {CALLBACK_TOKEN}"},
    )
    flows = (await api.get("/api/v1/flows")).json()["items"]
    assert [(flow["flowId"], flow["name"]) for flow in flows] == [(FLOW_HANGS, None)]


async def test_flow_stats_draw_the_graph_and_say_what_window_and_data_they_cover(
    client: httpx.AsyncClient,
) -> None:
    await post(
        client,
        event("node_enter", 1, "ask"),
        event("node_exit", 2, "ask"),
        event("node_enter", 3, "check"),
        event("node_exit", 4, "check"),
        event("node_enter", 5, "ask"),
        event("node_enter", 6, "ask", conversationId="c-2"),
        event("node_exit", 9, "ask", conversationId="c-2"),
        event("node_enter", 10, "done", conversationId="c-2"),
    )
    stats = (
        await get(
            client,
            f"/api/v1/flows/{FLOW}/stats",
            since="2026-03-02T10:20:00Z",
            until="2026-03-02T10:40:00Z",
        )
    ).json()
    assert stats["edges"] == [
        {"fromNodeId": "ask", "toNodeId": "check", "transitions": 1},
        {"fromNodeId": "ask", "toNodeId": "done", "transitions": 1},
        {"fromNodeId": "check", "toNodeId": "ask", "transitions": 1},
    ]
    assert [(node["nodeId"], node["openNow"]) for node in stats["nodes"]] == [
        ("ask", 1),
        ("check", 0),
        ("done", 1),
    ]
    assert stats["paths"] == [
        {"nodeIds": ["ask", "check", "ask"], "runs": 1},
        {"nodeIds": ["ask", "done"], "runs": 1},
    ]
    # The window is whole hours; the events are all still there.
    assert stats["window"] == {
        "since": "2026-03-02T10:00:00.000000Z",
        "until": "2026-03-02T11:00:00.000000Z",
    }
    coverage = stats["coverage"]
    assert coverage["rawEventsSince"] == "2026-03-02T10:15:01.250000Z"
    assert coverage["aggregatesOnly"] is False
    assert coverage["rollupsAsOf"] is not None
    assert 0 < coverage["durationRelativeError"] < 0.05
    assert stats["events"] == 8
    # An hour with nothing in it.
    empty = await get(client, f"/api/v1/flows/{FLOW}/stats", since="2026-03-02T11:00:00Z")
    assert (empty.json()["runs"], empty.json()["edges"], empty.json()["nodes"]) == (0, [], [])
