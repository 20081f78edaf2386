from typing import Any

import httpx

from receiver.serving.server import RunningServer
from tests.conftest import CALLBACK_TOKEN, FLOW_HANGS, WRITE_KEY


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
