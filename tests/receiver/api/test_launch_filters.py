"""``GET /api/v1/launches`` by conversation, execution and the start of a name, and the
one-launch view's execution history state — over HTTP against the sandbox."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from sqlalchemy import Engine

from storage import history_pulls
from storage.launches import set_conversation
from tests.receiver.api.test_launches import launch


async def test_launches_are_found_by_execution_conversation_and_name_prefix(
    launch_api: httpx.AsyncClient, engine: Engine
) -> None:
    first = (await launch(launch_api, name="order 4711")).json()
    second = (await launch(launch_api, name="order 4712")).json()
    other = (await launch(launch_api, name="refund 9")).json()
    set_conversation(engine, other["id"], "conv-of-refund", datetime.now(UTC))

    async def ids(**params: str) -> list[str]:
        response = await launch_api.get("/api/v1/launches", params=params)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await ids(flowExecutionId=first["flowExecutionId"]) == [first["id"]]
    assert await ids(conversationId="conv-of-refund") == [other["id"]]
    assert await ids(namePrefix="order") == [second["id"], first["id"]]
    assert await ids(namePrefix="Order") == []
    assert await ids(namePrefix="order", state="running", flowExecutionId="nope") == []
    # Paged like any list: the cursor keeps the prefix.
    page = (
        await launch_api.get("/api/v1/launches", params={"namePrefix": "order", "limit": 1})
    ).json()
    rest = await launch_api.get(
        "/api/v1/launches", params={"namePrefix": "order", "cursor": page["nextCursor"]}
    )
    assert [item["id"] for item in page["items"] + rest.json()["items"]] == [
        second["id"],
        first["id"],
    ]
    twice = await launch_api.get("/api/v1/launches?namePrefix=a&namePrefix=b")
    assert twice.status_code == 400
    assert "namePrefix" in twice.json()["message"]


async def test_the_launch_says_where_its_execution_history_stands(
    launch_api: httpx.AsyncClient, engine: Engine
) -> None:
    created = (await launch(launch_api)).json()
    assert created["history"] == {
        "state": "none",
        "detail": None,
        "attempts": 0,
        "updatedAt": None,
        "instanceId": None,
    }
    now = datetime.now(UTC)
    history_pulls.mark(
        engine, created["id"], history_pulls.EXPIRED, now, detail="past the 10-day retention"
    )
    shown = (await launch_api.get(f"/api/v1/launches/{created['id']}")).json()
    assert shown["history"]["state"] == "expired"
    assert shown["history"]["detail"] == "past the 10-day retention"
    assert shown["history"]["attempts"] == 1
    assert shown["history"]["updatedAt"] is not None
    listed = (await launch_api.get("/api/v1/launches")).json()["items"]
    assert "history" not in listed[0]  # the one-launch view only: no read per list row
