import asyncio
from typing import Any

import httpx
from standardwebhooks import Webhook

from receiver.serving.server import RunningServer
from tests.conftest import CALLBACK_TOKEN
from tests.polling import poll_until
from tests.receiver.webhooks.conftest import (
    FLOW,
    OTHER_FLOW,
    Receiver,
    end_launch,
    running_launch,
    subscribe,
    wait_until,
)


async def log_of(api: httpx.AsyncClient, endpoint_id: str) -> list[dict[str, Any]]:
    response = await api.get(f"/api/v1/webhook-endpoints/{endpoint_id}/deliveries")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_an_ended_launch_sends_one_signed_message_to_each_subscribed_endpoint(
    api: httpx.AsyncClient, flowtrack: RunningServer, receiver: Receiver, database_url: str
) -> None:
    completed = await subscribe(api, receiver.url("/completed"), "launch.completed")
    failed_only = await subscribe(api, receiver.url("/failed"), "launch.failed")
    other_flow = await subscribe(
        api, receiver.url("/other"), "launch.completed", flowIds=[OTHER_FLOW]
    )
    this_flow = await subscribe(
        api, receiver.url("/this"), "launch.completed", "launch.failed", flowIds=[FLOW]
    )
    await asyncio.to_thread(running_launch, database_url, "l-ends")

    await end_launch(flowtrack.base_url, "l-ends")

    got = await receiver.wait_for(lambda seen: len(seen) >= 2)
    assert sorted(each.path for each in got) == ["/completed", "/this"]
    for each in got:
        secret = completed["secret"] if each.path == "/completed" else this_flow["secret"]
        assert Webhook(secret).verify(each.body, each.headers) == each.json
        assert each.json["type"] == "launch.completed"
        assert each.json["data"]["launchId"] == "l-ends"
        assert each.json["data"]["state"] == "completed"
        assert each.json["data"]["flowId"] == FLOW
    # The outbox is written with the state change: had they subscribed, they would have
    # messages by now.
    assert await log_of(api, failed_only["id"]) == []
    assert await log_of(api, other_flow["id"]) == []
    # The attempt is recorded after the receiver's answer (attempts are batched): poll.
    delivered = await poll_until(
        lambda: log_of(api, completed["id"]),
        lambda log: [each["state"] for each in log] == ["delivered"],
        within=10,
    )
    sent_there = next(each for each in got if each.path == "/completed")
    assert delivered[0]["messageId"] == sent_there.headers["webhook-id"]


async def test_a_receiver_answering_503_gets_the_same_message_id_again_and_the_log_shows_both(
    api: httpx.AsyncClient, flowtrack: RunningServer, receiver: Receiver, database_url: str
) -> None:
    receiver.answers["/flaky"] = [503]
    endpoint = await subscribe(api, receiver.url("/flaky"), "launch.failed")
    await asyncio.to_thread(running_launch, database_url, "l-fails")

    await end_launch(flowtrack.base_url, "l-fails", error=True)

    got = await receiver.wait_for(lambda seen: len(seen) >= 2)
    assert got[0].headers["webhook-id"] == got[1].headers["webhook-id"]
    assert got[0].body == got[1].body
    assert got[1].json["type"] == "launch.failed"
    assert got[1].json["data"]["errorCode"] == "DATA_ACTION_FAILED"
    await wait_until(lambda: _delivered(api, endpoint["id"]))
    (message,) = await log_of(api, endpoint["id"])
    assert message["messageId"] == got[0].headers["webhook-id"]
    attempts = message["attempts"]
    assert [(each["result"], each["statusCode"]) for each in attempts] == [
        ("retry", 503),
        ("delivered", 200),
    ]
    assert attempts[0]["error"] == "answered 503"
    assert all(each["latencyMs"] is not None for each in attempts)


async def _delivered(api: httpx.AsyncClient, endpoint_id: str) -> bool:
    return [each["state"] for each in await log_of(api, endpoint_id)] == ["delivered"]


async def test_flow_errors_and_dead_letters_are_sent_to_who_subscribes(
    api: httpx.AsyncClient, flowtrack: RunningServer, receiver: Receiver, database_url: str
) -> None:
    errors = await subscribe(api, receiver.url("/errors"), "flow.error", "dead_letter.stored")
    await asyncio.to_thread(running_launch, database_url, "l-error")

    await end_launch(flowtrack.base_url, "l-error", error=True)
    async with httpx.AsyncClient(base_url=flowtrack.base_url, timeout=10) as http:
        refused = await http.post(
            "/webhooks/genesys",
            json={"not": "an event"},
            headers={"Authorization": f"Bearer {CALLBACK_TOKEN}"},
        )
    assert refused.status_code == 422

    got = await receiver.wait_for(lambda seen: len(seen) >= 2)
    by_type = {each.json["type"]: each.json["data"] for each in got}
    assert by_type["flow.error"]["launchId"] == "l-error"
    assert by_type["flow.error"]["errorCode"] == "DATA_ACTION_FAILED"
    assert by_type["flow.error"]["nodeId"] == "push"
    assert isinstance(by_type["dead_letter.stored"]["deadLetterId"], int)
    for each in got:
        Webhook(errors["secret"]).verify(each.body, each.headers)
