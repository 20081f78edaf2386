"""Execution data: the setting, the query and its cap, download jobs and the records."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import pytest
from websockets.asyncio.client import connect

from sandbox.samples import ADDRESS_CHANGE
from sandbox.server import RunningSandbox, running_sandbox
from tests.sandbox.conftest import (
    CONVERSATION,
    TEST_FLOWS,
    CallbackReceiver,
    authorized,
    finished,
    launch,
    make_config,
    poll_until,
    register_callback_action,
)
from tests.sandbox.test_notifications import new_channel, next_frame

TASKED = "f1a00000-0000-4000-8000-0000000000a1"
QUIET = "f1a00000-0000-4000-8000-0000000000a2"
NO_DATA = "f1a00000-0000-4000-8000-0000000000a3"
LONG = "f1a00000-0000-4000-8000-0000000000a4"
HISTORY_FLOWS: list[dict[str, Any]] = [
    *TEST_FLOWS,
    {
        "id": TASKED,
        "name": "Tasked workflow",
        "nodes": [
            {"id": "main", "type": "Task", "name": "Main task", "next": "lookup"},
            {"id": "lookup", "type": "CallData", "name": "Look up", "next": "notify"},
            {
                "id": "notify",
                "type": "SendEmail",
                "error_probability": 1.0,
                "error_code": "EMAIL_BOUNCED",
                "on_error": "cleanup",
            },
            {"id": "cleanup", "type": "Task", "name": "Clean up", "next": "log"},
            {"id": "log", "type": "UpdateData"},
        ],
    },
    {
        "id": QUIET,
        "name": "Workflow without data actions",
        "data_action_steps": False,
        "nodes": [
            {"id": "one", "type": "Decision", "duration_ms": 10, "next": "two"},
            {"id": "two", "type": "SetFlowOutcome", "duration_ms": 10},
        ],
    },
    {
        "id": NO_DATA,
        "name": "Published before execution data",
        "execution_data": False,
        "nodes": [{"id": "only", "duration_ms": 10}],
    },
    {
        "id": LONG,
        "name": "Long workflow",
        "data_action_steps": False,
        "nodes": [
            {"id": f"n{i}", "type": "Decision", "next": f"n{i + 1}" if i < 11 else None}
            for i in range(12)
        ],
    },
]


@contextlib.asynccontextmanager
async def history_sandbox(
    **overrides: Any,
) -> AsyncIterator[tuple[RunningSandbox, httpx.AsyncClient]]:
    settings = {"flows": HISTORY_FLOWS, "rate_limit_per_minute": 100_000, **overrides}
    async with running_sandbox(make_config(**settings)) as sandbox, authorized(sandbox) as api:
        yield sandbox, api


@pytest.fixture
async def org() -> AsyncIterator[tuple[RunningSandbox, httpx.AsyncClient]]:
    async with history_sandbox() as running:
        yield running


async def run(api: httpx.AsyncClient, flow_id: str) -> dict[str, Any]:
    launched = await launch(api, flow_id)
    return await finished(api, launched["id"])


async def query(api: httpx.AsyncClient, *groups: dict[str, Any], **params: Any) -> dict[str, Any]:
    response = await api.post(
        "/api/v2/flows/instances/query", params=params, json={"query": list(groups)}
    )
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


def criteria(key: str, operator: str, value: str | None = None) -> dict[str, Any]:
    return {"criteria": {"key": key, "operator": operator, "value": value}}


async def download_record(api: httpx.AsyncClient, instance_id: str) -> dict[str, Any]:
    job = (await api.post("/api/v2/flows/instances/jobs", json={"ids": [instance_id]})).json()
    done = await poll_until(
        lambda: api.get(f"/api/v2/flows/instances/jobs/{job['id']}"),
        lambda r: r.json()["jobState"] == "Success",
    )
    async with httpx.AsyncClient() as anonymous:
        document: dict[str, Any] = (
            await anonymous.get(done.json()["entities"][0]["downloadUri"])
        ).json()
    return document


async def test_the_sample_org_has_execution_data_on_and_a_patch_does_not_republish(
    org: tuple[RunningSandbox, httpx.AsyncClient],
) -> None:
    _, api = org
    before = (await api.get("/api/v2/flows/instances/settings/executiondata")).json()
    first = await run(api, QUIET)

    off = await api.patch("/api/v2/flows/instances/settings/executiondata", json={"enabled": False})
    await run(api, QUIET)  # while off
    on = await api.patch("/api/v2/flows/instances/settings/executiondata", json={"enabled": True})
    await run(api, QUIET)  # on again, but the flow was published before
    found = await query(api, criteria("FlowId", "eq", QUIET))

    assert before["enabled"] is True
    assert before["selfUri"] == "/api/v2/flows/instances/settings/executiondata"
    assert off.json()["enabled"] is False
    assert off.json()["modifiedByClient"]["id"] == "sandbox"
    assert on.json()["enabled"] is True
    assert on.json()["dateModified"] > before["dateModified"]
    assert [e["id"] for e in found["entities"]] == [first["id"]]


async def test_execution_data_off_in_the_config_means_no_push_and_nothing_to_query() -> None:
    async with history_sandbox(execution_data=False) as (sandbox, api):
        setting = (await api.get("/api/v2/flows/instances/settings/executiondata")).json()
        await run(api, QUIET)
        found = await query(api, criteria("FlowId", "eq", QUIET))

    assert setting["enabled"] is False
    assert found["total"] == 0
    assert sandbox.state.stats.get("history.not_recorded") == 1
    assert sandbox.state.stats.get("notifications.published") == 0


async def test_a_flow_published_before_execution_data_produces_none(
    org: tuple[RunningSandbox, httpx.AsyncClient],
) -> None:
    _, api = org
    channel = await new_channel(
        api, f"v2.flows.instances.flow.{NO_DATA}", f"v2.flows.instances.flow.{QUIET}"
    )

    async with connect(channel["connectUri"]) as socket:
        await run(api, NO_DATA)
        quiet = await run(api, QUIET)
        pushed = await next_frame(socket, f"v2.flows.instances.flow.{QUIET}")
    found = await query(
        api, {"or": [{"key": "FlowId", "operator": "eq", "value": f} for f in (NO_DATA, QUIET)]}
    )

    assert pushed["eventBody"]["executionId"] == quiet["id"]
    assert [e["flowId"] for e in found["entities"]] == [QUIET]


async def test_the_query_matches_criteria_groups_and_describes_each_instance(
    org: tuple[RunningSandbox, httpx.AsyncClient],
) -> None:
    _, api = org
    tasked = await run(api, TASKED)
    conversation = await run(api, CONVERSATION)
    conversation_id = conversation["conversation"]["id"]

    by_error = await query(api, criteria("FlowErrorReason", "not_null"))
    by_conversation = await query(api, criteria("ConversationId", "eq", conversation_id))
    by_window = await query(
        api,
        criteria("FlowId", "eq", TASKED),
        {
            "and": [
                {"key": "FlowStartDateTime", "operator": "gte", "value": tasked["dateLaunched"]},
                {"key": "FlowStartDateTime", "operator": "lt", "value": "2999-01-01T00:00:00.000Z"},
            ]
        },
    )
    empty_window = await query(api, criteria("FlowEndDateTime", "lt", tasked["dateLaunched"]))
    excluded = await query(
        api, {"not": [{"key": "FlowActionType", "operator": "eq", "value": "Task"}]}
    )
    by_action = await query(api, criteria("FlowActionId", "begins", "clean"))

    assert by_error["entities"] == [
        {
            "id": tasked["id"],
            "name": "Tasked workflow",
            "startDateTime": tasked["dateLaunched"],
            "endDateTime": by_error["entities"][0]["endDateTime"],
            "flowId": TASKED,
            "flowVersion": "1.0",
            "flowType": "workflow",
            "flowErrorReason": "EMAIL_BOUNCED",
            "flowName": "Tasked workflow",
            "selfUri": f"/api/v2/flows/instances/{tasked['id']}",
        }
    ]
    assert [e["id"] for e in by_conversation["entities"]] == [conversation["id"]]
    assert by_conversation["entities"][0]["conversationId"] == conversation_id
    assert [e["id"] for e in by_window["entities"]] == [tasked["id"]]
    assert empty_window["total"] == 0
    assert [e["id"] for e in excluded["entities"]] == [conversation["id"]]
    assert [e["id"] for e in by_action["entities"]] == [tasked["id"]]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"query": [{"criteria": {"key": "LaunchId", "operator": "eq", "value": "x"}}]}, "key"),
        (
            {"query": [{"criteria": {"key": "FlowId", "operator": "like", "value": "x"}}]},
            "operator",
        ),
        ({"query": [{"criteria": {"key": "FlowId", "operator": "eq"}}]}, "value"),
        (
            {
                "query": [
                    {"criteria": {"key": "FlowStartDateTime", "operator": "gt", "value": "soon"}}
                ]
            },
            "ISO",
        ),
        ({"query": [{"and": []}]}, "non-empty"),
        ({"query": "FlowId"}, "CriteriaQuery"),
    ],
)
async def test_a_malformed_query_is_a_400_naming_the_problem(
    org: tuple[RunningSandbox, httpx.AsyncClient], body: dict[str, Any], problem: str
) -> None:
    _, api = org

    response = await api.post("/api/v2/flows/instances/query", json=body)

    assert response.status_code == 400
    assert problem in response.json()["message"]


async def test_the_query_returns_at_most_200_with_the_true_total_and_no_next_page(
    org: tuple[RunningSandbox, httpx.AsyncClient],
) -> None:
    _, api = org
    await asyncio.gather(*(launch(api, QUIET) for _ in range(205)))

    capped = await poll_until(
        lambda: query(api, criteria("FlowId", "eq", QUIET)), lambda d: d["total"] == 205, 60
    )
    small = await query(api, criteria("FlowId", "eq", QUIET), pageSize=25)
    too_big = await api.post(
        "/api/v2/flows/instances/query", params={"pageSize": 201}, json={"query": []}
    )

    assert len(capped["entities"]) == 200
    assert capped["total"] == 205
    assert "nextUri" not in capped
    assert len(small["entities"]) == 25
    assert small["total"] == 205
    assert too_big.status_code == 400


async def test_a_job_goes_registered_running_success_and_links_outside_the_api(
    org: tuple[RunningSandbox, httpx.AsyncClient],
) -> None:
    sandbox, api = org
    done = await run(api, QUIET)

    created = await api.post(
        "/api/v2/flows/instances/jobs", json={"ids": [done["id"], "no-such-instance"]}
    )
    job_uri = f"/api/v2/flows/instances/jobs/{created.json()['id']}"
    running = await api.get(job_uri)
    success = await api.get(job_uri)
    again = await api.get(job_uri)
    single = await api.get(f"/api/v2/flows/instances/{done['id']}")

    assert created.status_code == 200
    assert created.json()["jobState"] == "Registered"
    assert "entities" not in created.json()
    assert running.json()["jobState"] == "Running"
    assert success.json()["jobState"] == "Success"
    assert again.json() == success.json()
    found, missing = success.json()["entities"]
    assert missing == {"id": "no-such-instance", "failed": True, "statusCode": "404"}
    assert found["failed"] is False
    link = urlsplit(found["downloadUri"])
    assert f"{link.scheme}://{link.netloc}" == sandbox.base_url
    assert not link.path.startswith("/api/v2")
    assert single.json()["jobState"] == "Registered"


async def test_a_download_link_is_its_own_credential(
    org: tuple[RunningSandbox, httpx.AsyncClient],
) -> None:
    _, api = org
    done = await run(api, QUIET)
    job = (await api.post("/api/v2/flows/instances/jobs", json={"ids": [done["id"]]})).json()
    await api.get(f"/api/v2/flows/instances/jobs/{job['id']}")
    link = (await api.get(f"/api/v2/flows/instances/jobs/{job['id']}")).json()["entities"][0][
        "downloadUri"
    ]

    async with httpx.AsyncClient() as anonymous:
        plain = await anonymous.get(link)
        with_token = await api.get(link)
        tampered = await anonymous.get(link.replace("Signature=", "Signature=0"))

    assert plain.status_code == 200
    assert plain.json()["flow"]["executionId"] == done["id"]
    assert with_token.status_code == 400
    assert "Only one auth mechanism" in with_token.text
    assert tampered.status_code == 403
    assert "<Code>AccessDenied</Code>" in tampered.text


async def test_an_expired_download_link_is_refused() -> None:
    async with history_sandbox(execution_data_download_ttl_seconds=1) as (_, api):
        done = await run(api, QUIET)
        job = (await api.post("/api/v2/flows/instances/jobs", json={"ids": [done["id"]]})).json()
        await api.get(f"/api/v2/flows/instances/jobs/{job['id']}")
        link = (await api.get(f"/api/v2/flows/instances/jobs/{job['id']}")).json()["entities"][0][
            "downloadUri"
        ]
        await asyncio.sleep(2.1)
        async with httpx.AsyncClient() as anonymous:
            expired = await anonymous.get(link)

    assert expired.status_code == 403
    assert "Request has expired" in expired.text


async def test_a_record_nests_a_tasks_visits_and_carries_items_without_ids(
    org: tuple[RunningSandbox, httpx.AsyncClient],
) -> None:
    _, api = org
    launched = await launch(api, TASKED, **{"Flow.flowtrackLaunchId": "launch-7"})
    done = await finished(api, launched["id"])

    flow = (await download_record(api, done["id"]))["flow"]

    kinds = [next(iter(item)) for item in flow["execution"]]
    assert kinds == [
        "startedFlow",
        "startedTask",
        "endedTask",
        "startedTask",
        "endedTask",
        "endedFlow",
    ]
    started, main, main_end, cleanup, cleanup_end, ended = (
        next(iter(item.values())) for item in flow["execution"]
    )
    assert set(started) == {"dateTime", "languageTag", "variables"}
    assert started["variables"] == [{"variableName": "Flow.flowtrackLaunchId", "value": "launch-7"}]
    assert main["taskId"] == "main"
    assert main["taskName"] == "Main task"
    assert [next(iter(item)) for item in main["execution"]] == ["actionCallData", "actionSendEmail"]
    lookup, notify = (next(iter(item.values())) for item in main["execution"])
    assert lookup["actionId"] == "lookup"
    assert lookup["outputPathId"] == "__SUCCESS__"
    assert notify["errors"] == [
        {"reason": "EMAIL_BOUNCED", "executionId": notify["executionId"], "objectId": "notify"}
    ]
    assert "outputPathId" not in notify
    assert main_end == {"taskName": "Main task", "dateTime": cleanup["dateTime"]}
    assert [next(iter(item)) for item in cleanup["execution"]] == ["actionUpdateData"]
    assert cleanup_end["dateTime"] == ended["dateTime"] == flow["endDateTime"]
    assert ended["flowExitReason"] == "FLOW_EXIT"
    assert flow["division"] == {"id": "d62836e8-0000-4000-8000-000000000001"}
    assert flow["flowId"] == TASKED
    assert "conversationId" not in flow


async def test_a_long_run_is_pushed_truncated_with_a_link_to_its_full_record() -> None:
    async with history_sandbox(notification_max_items=5) as (_, api):
        topic = f"v2.flows.instances.flow.{LONG}"
        channel = await new_channel(api, topic)
        async with connect(channel["connectUri"]) as socket:
            done = await run(api, LONG)
            pushed = (await next_frame(socket, topic))["eventBody"]
        async with httpx.AsyncClient() as anonymous:
            full = (await anonymous.get(pushed["executionHistoryUri"])).json()["flow"]

    assert pushed["executionId"] == done["id"]
    assert pushed["executionItemsTruncated"] is True
    assert len(pushed["execution"]) == 5
    assert pushed["executionHistoryUriTtl"] == 3600
    visits = [item["actionDecision"]["actionId"] for item in full["execution"][1:-1]]
    assert visits == [f"n{i}" for i in range(12)]


async def test_history_is_logged_after_the_configured_delay() -> None:
    async with history_sandbox(execution_data_delay_seconds=0.5) as (_, api):
        done = await run(api, QUIET)
        at_once = await query(api, criteria("FlowId", "eq", QUIET))
        later = await poll_until(
            lambda: query(api, criteria("FlowId", "eq", QUIET)), lambda d: d["total"] == 1
        )

    assert at_once["total"] == 0
    assert later["entities"][0]["id"] == done["id"]


async def test_a_flow_without_data_action_steps_calls_nothing_yet_has_its_history(
    org: tuple[RunningSandbox, httpx.AsyncClient], receiver: CallbackReceiver
) -> None:
    _, api = org
    await register_callback_action(api, receiver.url)

    done = await run(api, QUIET)
    flow = (await download_record(api, done["id"]))["flow"]

    assert receiver.events(done["id"]) == []
    assert done["status"] == "COMPLETED"
    assert [next(iter(item)) for item in flow["execution"]] == [
        "startedFlow",
        "actionDecision",
        "actionSetFlowOutcome",
        "endedFlow",
    ]


async def test_the_sample_flow_without_data_actions_is_seen_whole_by_push_and_pull(
    receiver: CallbackReceiver,
) -> None:
    instances = f"v2.flows.instances.flow.{ADDRESS_CHANGE}"
    async with history_sandbox(flows=None, seed=1) as (_, api):
        await register_callback_action(api, receiver.url)
        channel = await new_channel(api, instances)
        async with connect(channel["connectUri"]) as socket:
            launched = await launch(api, ADDRESS_CHANGE)
            status = (await api.get(f"/api/v2/flows/executions/{launched['id']}")).json()
            conversation_id = status["conversation"]["id"]
            details = f"v2.detail.events.conversation.{conversation_id}?flow.end&flow.outcome"
            await subscribe(api, channel["id"], details)
            frames = await frames_until(socket, instances)
        done = await finished(api, launched["id"])
        record = (await download_record(api, launched["id"]))["flow"]

    pushed = frames[instances]["eventBody"]
    outcome = frames[f"v2.detail.events.conversation.{conversation_id}.flow.outcome"]
    visits = [item["objectId"] for item in pushed["execution"][1:]]
    assert visits[:2] == ["main", "verify"]
    assert visits[-1] in {"updated", "not-updated"}
    expected = "SUCCESS" if visits[-1] == "updated" else "FAILURE"
    assert outcome["eventBody"]["flowOutcomeValue"] == expected
    assert outcome["eventBody"]["flowId"] == ADDRESS_CHANGE
    nested = record["execution"][1]["startedTask"]["execution"]
    assert [next(iter(item.values()))["actionId"] for item in nested] == visits[1:]
    assert record["conversationId"] == conversation_id
    assert done["status"] == "COMPLETED"
    assert receiver.events(launched["id"]) == []


async def subscribe(api: httpx.AsyncClient, channel_id: str, *topics: str) -> None:
    response = await api.post(
        f"/api/v2/notifications/channels/{channel_id}/subscriptions",
        json=[{"id": t} for t in topics],
    )
    assert response.status_code == 200, response.text


async def frames_until(socket: Any, last: str, within: float = 5.0) -> dict[str, Any]:
    """Every frame by topic (the first of each) until one on ``last`` arrives."""
    frames: dict[str, Any] = {}
    async with asyncio.timeout(within):
        while last not in frames:
            frame = orjson.loads(await socket.recv())
            frames.setdefault(frame["topicName"], frame)
    return frames


async def test_history_past_its_retention_is_gone_from_query_jobs_and_downloads() -> None:
    async with history_sandbox(execution_data_retention_seconds=2.0) as (sandbox, api):
        done = await run(api, QUIET)
        kept = await query(api, criteria("FlowId", "eq", QUIET))
        job = (await api.post("/api/v2/flows/instances/jobs", json={"ids": [done["id"]]})).json()
        await api.get(f"/api/v2/flows/instances/jobs/{job['id']}")
        await asyncio.sleep(2.1)
        gone = await query(api, criteria("FlowId", "eq", QUIET))
        success = (await api.get(f"/api/v2/flows/instances/jobs/{job['id']}")).json()

    assert kept["total"] == 1
    assert gone["total"] == 0
    assert success["entities"] == [{"id": done["id"], "failed": True, "statusCode": "404"}]
    assert sandbox.state.stats.get("history.expired") == 1
