"""flowtrack and the sandbox over real HTTP, as in production: register, launch, follow."""

import asyncio
from typing import Any

import httpx

from receiver.app import create_app
from receiver.registration.register import register_from_settings
from receiver.serving.server import running_server
from tests.conftest import FLOW_FAILS, FLOW_OK, WRITE_KEY, genesys_overrides, settings_for


async def test_fifty_launches_end_in_the_right_state_with_every_event_attributed_despite_faults(
    database_url: str, sandbox: Any
) -> None:
    environ = {**genesys_overrides(sandbox.base_url), "FLOWTRACK_SWEEP_INTERVAL": "0.5"}
    app = create_app(settings_for(database_url, **environ))
    async with (
        running_server(app) as server,
        httpx.AsyncClient(
            base_url=server.base_url, headers={"Authorization": f"Bearer {WRITE_KEY}"}, timeout=30
        ) as api,
        httpx.AsyncClient(base_url=sandbox.base_url) as control,
    ):
        await register_from_settings(
            settings_for(database_url, FLOWTRACK_PUBLIC_URL=server.base_url, **environ)
        )
        faults = {
            "deliveries": {"duplicate": 0.3, "reorder": 0.3, "delayMs": [5, 40]},
            "api": {"rateLimitBurst": 8, "retryAfterSeconds": 1, "paths": ["/api/v2/"]},
        }
        assert (await control.put("/sandbox/faults", json=faults)).status_code == 200

        flows = [FLOW_OK if n % 2 else FLOW_FAILS for n in range(50)]
        responses = await asyncio.gather(
            *(api.post("/api/v1/launches", json={"flowId": flow}) for flow in flows)
        )
        assert [r.status_code for r in responses] == [201] * 50
        launches = [r.json() for r in responses]

        expected = {FLOW_OK: "completed", FLOW_FAILS: "failed"}

        def settled(flow_id: str, counts: dict[str, int]) -> bool:
            # Reordered deliveries may still be in flight when the end arrives:
            # wait for every event the flow sends, not only for the end state.
            if flow_id == FLOW_OK:
                return counts == {"start": 2, "node_enter": 3, "node_exit": 3, "complete": 1}
            return (
                counts.get("node_enter") == 2
                and counts.get("node_exit", 0) >= 1
                and counts.get("error", 0) >= 1
                and counts.get("complete") == 1
            )

        final: dict[str, dict[str, Any]] = {}
        last: dict[str, dict[str, Any]] = {}
        for _ in range(400):
            for launch in launches:
                if launch["id"] not in final:
                    state = (await api.get(f"/api/v1/launches/{launch['id']}")).json()
                    last[launch["id"]] = state
                    flow_id = launch["flowId"]
                    if state["state"] == expected[flow_id] and settled(
                        flow_id, state["eventCounts"]
                    ):
                        final[launch["id"]] = state
            if len(final) == len(launches):
                break
            await asyncio.sleep(0.05)
        stuck = {
            item["id"]: (item["flowId"], last[item["id"]]["state"], last[item["id"]]["eventCounts"])
            for item in launches
            if item["id"] not in final
        }
        assert not stuck, f"launches not in their expected end state and counts: {stuck}"

        stats = (await control.get("/sandbox/stats")).json()["counters"]
        assert stats.get("callbacks.faults.duplicated", 0) > 0
        assert stats.get("faults.api.429", 0) > 0

        for launch in launches:
            # Every event of the execution belongs to its launch: nothing unattributed.
            listed = await api.get(
                "/api/v1/events", params={"flowExecutionId": launch["flowExecutionId"]}
            )
            assert {e["launchId"] for e in listed.json()["items"]} == {launch["id"]}
