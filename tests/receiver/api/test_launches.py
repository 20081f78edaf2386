import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from receiver.app import create_app
from receiver.launches.service import new_launch_id
from receiver.serving.server import RunningServer, running_server
from tests.conftest import (
    CALLBACK_TOKEN,
    FLOW_CALL,
    FLOW_HANGS,
    FLOW_OK,
    READ_KEY,
    WRITE_KEY,
    settings_for,
)

# A flow id the sandbox does not know: the platform refuses it.
UNKNOWN_FLOW = "bbbbbbbb-0000-4000-8000-000000000404"
START = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)


def at(seconds: int) -> str:
    """A time shortly after the launches of this test module (the launch is its start)."""
    return (START + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


async def launch(api: httpx.AsyncClient, **body: Any) -> httpx.Response:
    return await api.post("/api/v1/launches", json={"flowId": FLOW_HANGS, **body})


async def settle(app: Any) -> None:
    await app.state.services.tracker.settled()


async def callback(server: RunningServer, *events: dict[str, Any]) -> None:
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {CALLBACK_TOKEN}"}
    ) as http:
        response = await http.post("/webhooks/genesys", json=list(events))
        assert response.status_code == 200, response.text


async def test_a_launch_is_recorded_and_the_flow_gets_its_id(
    launch_api: httpx.AsyncClient, sandbox: Any
) -> None:
    response = await launch(
        launch_api, inputData={"Flow.orderId": "4711"}, name="order 4711", timeoutSeconds=600
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["state"] == "running"
    assert body["flowId"] == FLOW_HANGS
    assert body["name"] == "order 4711"
    assert body["inputData"] == {"Flow.orderId": "4711"}
    assert body["timeoutSeconds"] == 600
    assert body["deadlineAt"] is not None
    assert response.headers["location"] == f"/api/v1/launches/{body['id']}"
    async with httpx.AsyncClient(base_url=sandbox.base_url) as control:
        seen = (await control.get(f"/sandbox/executions/{body['flowExecutionId']}")).json()
    assert seen["inputData"] == {"Flow.orderId": "4711", "flowtrackLaunchId": body["id"]}


async def test_the_launch_itself_is_the_first_event_of_its_history(
    launch_api: httpx.AsyncClient,
) -> None:
    created = (await launch(launch_api)).json()
    events = (await launch_api.get("/api/v1/events", params={"launchId": created["id"]})).json()
    first = events["items"][0]
    assert (first["kind"], first["source"], first["flowExecutionId"]) == (
        "start",
        "flowtrack",
        created["flowExecutionId"],
    )


async def test_a_retried_request_with_the_same_idempotency_key_launches_once(
    launch_api: httpx.AsyncClient, sandbox: Any
) -> None:
    headers = {"Idempotency-Key": "order-4711-followup"}
    first = await launch_api.post("/api/v1/launches", json={"flowId": FLOW_HANGS}, headers=headers)
    again = await launch_api.post("/api/v1/launches", json={"flowId": FLOW_HANGS}, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    async with httpx.AsyncClient(base_url=sandbox.base_url) as control:
        stats = (await control.get("/sandbox/stats")).json()
    assert stats["counters"]["launches"] == 1


async def test_a_flow_the_platform_does_not_know_is_kept_as_launch_failed(
    launch_api: httpx.AsyncClient,
) -> None:
    response = await launch(launch_api, flowId=UNKNOWN_FLOW)
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "genesys_not_found"
    assert body["detail"]["genesysStatus"] == 404
    assert body["detail"]["genesysCode"] == "not.found"
    stored = body["detail"]["launch"]
    assert stored["state"] == "launch_failed"
    assert stored["errorCode"] == "not.found"
    listed = await launch_api.get(f"/api/v1/launches/{stored['id']}")
    assert listed.json()["state"] == "launch_failed"


async def test_a_platform_failure_after_sending_leaves_the_outcome_unknown_not_relaunched(
    launch_api: httpx.AsyncClient, sandbox: Any
) -> None:
    async with httpx.AsyncClient(base_url=sandbox.base_url) as control:
        await control.put(
            "/sandbox/faults",
            json={
                "api": {
                    "serverError": 1.0,
                    "serverErrorStatuses": [503],
                    "paths": ["/api/v2/flows/executions"],
                }
            },
        )
    response = await launch(launch_api)
    assert response.status_code == 502
    body = response.json()
    assert body["error"] == "launch_outcome_unknown"
    assert body["detail"]["launch"]["state"] == "pending"
    assert "outcome unknown" in body["detail"]["launch"]["stateReason"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "flowId"),
        ({"flowId": 7.5, "timeoutSeconds": 0}, "timeoutSeconds"),
        ({"flowId": "f", "inputData": [1]}, "inputData"),
        ({"flowId": "f", "idleTimeoutSeconds": "soon"}, "idleTimeoutSeconds"),
        ({"flowId": "f", "flowVerison": "2"}, "flowVerison"),
    ],
)
async def test_invalid_launch_requests_are_422_naming_the_field(
    launch_api: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    response = await launch_api.post("/api/v1/launches", json=body)
    assert response.status_code == 422
    assert field in [problem["field"] for problem in response.json()["detail"]]


async def test_launching_needs_a_write_key(launch_api: httpx.AsyncClient) -> None:
    response = await launch_api.post(
        "/api/v1/launches",
        json={"flowId": FLOW_HANGS},
        headers={"Authorization": f"Bearer {READ_KEY}"},
    )
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"


async def test_launches_are_listed_newest_first_with_filters_and_pagination(
    launch_api: httpx.AsyncClient,
) -> None:
    ids = [(await launch(launch_api)).json()["id"] for _ in range(3)]
    await launch(launch_api, flowId=UNKNOWN_FLOW)
    page = (
        await launch_api.get("/api/v1/launches", params={"limit": "2", "state": "running"})
    ).json()
    rest = (
        await launch_api.get(
            "/api/v1/launches", params={"state": "running", "cursor": page["nextCursor"]}
        )
    ).json()
    assert [item["id"] for item in page["items"] + rest["items"]] == ids[::-1]
    failed = (await launch_api.get("/api/v1/launches", params={"state": "launch_failed"})).json()
    assert [item["flowId"] for item in failed["items"]] == [UNKNOWN_FLOW]
    bad = await launch_api.get("/api/v1/launches", params={"state": "sleeping"})
    assert bad.status_code == 400


async def test_an_unknown_launch_is_a_404(launch_api: httpx.AsyncClient) -> None:
    response = await launch_api.get("/api/v1/launches/nope")
    assert response.status_code == 404
    assert response.json()["error"] == "launch_not_found"


async def test_callbacks_with_only_the_execution_id_move_the_launch_forward(
    launcher: tuple[RunningServer, Any], launch_api: httpx.AsyncClient
) -> None:
    server, app = launcher
    created = (await launch(launch_api)).json()
    execution = created["flowExecutionId"]
    await callback(
        server,
        {
            "event": "node_enter",
            "flowExecutionId": execution,
            "nodeId": "request",
            "nodeName": "Request",
            "occurredAt": at(1),
        },
        {
            "event": "node_exit",
            "flowExecutionId": execution,
            "nodeId": "request",
            "occurredAt": at(2),
        },
        {
            "event": "node_enter",
            "flowExecutionId": execution,
            "nodeId": "wait",
            "nodeName": "Wait",
            "occurredAt": at(3),
        },
    )
    await settle(app)
    running = (await launch_api.get(f"/api/v1/launches/{created['id']}")).json()
    assert running["state"] == "running"
    assert running["currentNode"] == {"id": "wait", "name": "Wait"}
    assert running["eventCounts"] == {"start": 1, "node_enter": 2, "node_exit": 1}
    assert running["lastEvent"]["nodeId"] == "wait"
    await callback(
        server,
        {"event": "complete", "flowExecutionId": execution, "occurredAt": at(9)},
    )
    await settle(app)
    done = (await launch_api.get(f"/api/v1/launches/{created['id']}")).json()
    assert done["state"] == "completed"
    assert done["endedAt"] == at(9).replace("Z", ".000000Z")


async def test_an_error_then_complete_fails_the_launch_and_late_events_do_not_revive_it(
    launcher: tuple[RunningServer, Any], launch_api: httpx.AsyncClient
) -> None:
    server, app = launcher
    created = (await launch(launch_api)).json()
    launch_id = created["id"]
    await callback(
        server,
        {
            "event": "error",
            "launchId": launch_id,
            "nodeId": "wait",
            "errorCode": "BOOM",
            "occurredAt": at(4),
        },
        {"event": "complete", "launchId": launch_id, "occurredAt": at(5)},
    )
    await settle(app)
    await callback(
        server,
        {
            "event": "node_enter",
            "launchId": launch_id,
            "nodeId": "late",
            "occurredAt": at(1),
        },
    )
    await settle(app)
    state = (await launch_api.get(f"/api/v1/launches/{launch_id}")).json()
    assert state["state"] == "failed"


async def test_the_conversation_of_a_launched_workflow_is_learned_from_the_platform(
    launcher: tuple[RunningServer, Any], launch_api: httpx.AsyncClient
) -> None:
    server, app = launcher
    created = (await launch(launch_api, flowId=FLOW_CALL)).json()
    conversation = None
    for _ in range(100):
        conversation = (await launch_api.get(f"/api/v1/launches/{created['id']}")).json()[
            "conversationId"
        ]
        if conversation:
            break
        await asyncio.sleep(0.02)
    assert conversation is not None
    # Callbacks that carry only the conversation are attributed to the launch.
    await callback(
        server,
        {
            "event": "node_enter",
            "conversationId": conversation,
            "flowId": FLOW_CALL,
            "nodeId": "dial",
            "occurredAt": at(1),
        },
        {
            "event": "node_enter",
            "conversationId": conversation,
            "flowId": "another-flow",
            "nodeId": "menu",
            "occurredAt": at(2),
        },
    )
    await settle(app)
    mine = (await launch_api.get("/api/v1/events", params={"launchId": created["id"]})).json()
    assert [e["nodeId"] for e in mine["items"] if e["kind"] == "node_enter"] == ["dial"]


async def test_without_genesys_settings_launching_is_a_503(database_url: str) -> None:
    async with (
        running_server(create_app(settings_for(database_url))) as server,
        httpx.AsyncClient(
            base_url=server.base_url, headers={"Authorization": f"Bearer {WRITE_KEY}"}
        ) as api,
    ):
        response = await api.post("/api/v1/launches", json={"flowId": FLOW_OK})
    assert response.status_code == 503
    assert "FLOWTRACK_GENESYS_CLIENT_ID" in response.json()["message"]


def test_launch_ids_are_time_ordered_uuid7() -> None:
    earlier = [new_launch_id() for _ in range(50)]
    time.sleep(0.002)
    later = new_launch_id()
    parsed = [uuid.UUID(value) for value in [*earlier, later]]
    assert {(value.version, value.variant) for value in parsed} == {(7, uuid.RFC_4122)}
    assert len(set(earlier)) == len(earlier)
    assert all(value < later for value in earlier)
    # The first 48 bits are the creation time in milliseconds.
    assert abs((parsed[-1].int >> 80) - time.time_ns() // 1_000_000) < 1000


async def test_an_idempotency_key_reused_for_another_request_is_a_409(
    launch_api: httpx.AsyncClient, sandbox: Any
) -> None:
    headers = {"Idempotency-Key": "order-4712"}
    first = await launch_api.post(
        "/api/v1/launches", json={"flowId": FLOW_HANGS, "name": "a"}, headers=headers
    )
    # The same request written differently is the same request.
    same = await launch_api.post(
        "/api/v1/launches",
        content=b'{ "name": "a",  "flowId": "' + FLOW_HANGS.encode() + b'" }',
        headers={**headers, "Content-Type": "application/json"},
    )
    other = await launch_api.post(
        "/api/v1/launches", json={"flowId": FLOW_HANGS, "name": "b"}, headers=headers
    )
    assert (first.status_code, same.status_code, other.status_code) == (201, 200, 409)
    assert other.json()["error"] == "idempotency_key_reused"
    assert first.json()["id"] in other.json()["message"]
    async with httpx.AsyncClient(base_url=sandbox.base_url) as control:
        stats = (await control.get("/sandbox/stats")).json()
    assert stats["counters"]["launches"] == 1


@pytest.mark.parametrize(
    ("content", "content_type", "status", "error"),
    [
        (
            b'{"flowId": "' + FLOW_HANGS.encode() + b'"}',
            "text/plain",
            415,
            "unsupported_media_type",
        ),
        (b'{"flowId": "' + FLOW_HANGS.encode() + b'"}', None, 415, "unsupported_media_type"),
        (b'{"flowId": ', "application/json", 400, "malformed_json"),
    ],
)
async def test_a_launch_body_must_be_declared_and_well_formed_json(
    launch_api: httpx.AsyncClient, content: bytes, content_type: str | None, status: int, error: str
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = await launch_api.post("/api/v1/launches", content=content, headers=headers)
    assert (response.status_code, response.json()["error"]) == (status, error)
    assert (await launch_api.get("/api/v1/launches")).json()["items"] == []


async def test_a_flow_id_that_is_not_a_uuid_is_refused_without_storing_a_launch(
    launch_api: httpx.AsyncClient, sandbox: Any
) -> None:
    response = await launch(launch_api, flowId="my-flow")
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_launch"
    assert response.json()["detail"] == [
        {
            "field": "flowId",
            "problem": "must be a flow id, a UUID such as 7d2a3b1e-5c0f-4f6e-9a41-2b8e0c9d1f37",
        }
    ]
    assert (await launch_api.get("/api/v1/launches")).json()["items"] == []
    async with httpx.AsyncClient(base_url=sandbox.base_url) as control:
        stats = (await control.get("/sandbox/stats")).json()
    assert stats["counters"].get("launches", 0) == 0


async def test_another_method_on_the_launches_is_a_405_naming_the_allowed_ones(
    launch_api: httpx.AsyncClient,
) -> None:
    response = await launch_api.delete("/api/v1/launches")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert response.json()["error"] == "method_not_allowed"
