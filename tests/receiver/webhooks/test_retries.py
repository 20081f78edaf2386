import asyncio
from datetime import datetime
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from receiver.serving.server import RunningServer
from tests.receiver.webhooks.conftest import Receiver, subscribe, wait_until


async def send_test(api: httpx.AsyncClient, endpoint_id: str) -> str:
    response = await api.post(f"/api/v1/webhook-endpoints/{endpoint_id}/test")
    assert response.status_code == 202, response.text
    message_id: str = response.json()["messageId"]
    return message_id


async def messages(api: httpx.AsyncClient, endpoint_id: str, **params: str) -> list[dict[str, Any]]:
    response = await api.get(f"/api/v1/webhook-endpoints/{endpoint_id}/deliveries", params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def endpoint(api: httpx.AsyncClient, endpoint_id: str) -> dict[str, Any]:
    response = await api.get(f"/api/v1/webhook-endpoints/{endpoint_id}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def settled(api: httpx.AsyncClient, endpoint_id: str, count: int, state: str) -> Any:
    async def check() -> bool:
        found = await messages(api, endpoint_id)
        return len(found) == count and all(each["state"] == state for each in found)

    return check


async def test_during_a_rotation_messages_verify_with_the_old_secret_and_the_new_one(
    api: httpx.AsyncClient, flowtrack: RunningServer, receiver: Receiver
) -> None:
    created = await subscribe(api, receiver.url("/rotating"), "launch.completed")
    rotated = await api.post(f"/api/v1/webhook-endpoints/{created['id']}/rotate-secret")
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    assert new_secret.startswith("whsec_") and new_secret != created["secret"]

    message_id = await send_test(api, created["id"])

    (got,) = await receiver.wait_for(lambda seen: len(seen) == 1)
    assert got.headers["webhook-id"] == message_id
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    for secret in (created["secret"], new_secret):
        assert Webhook(secret).verify(got.body, got.headers)["type"] == "webhook.test"
    shown = await endpoint(api, created["id"])
    assert shown["previousSecretValidUntil"] == rotated.json()["previousSecretValidUntil"]
    assert "secret" not in shown


async def test_a_410_disables_the_endpoint_and_says_why(
    api: httpx.AsyncClient, flowtrack: RunningServer, receiver: Receiver
) -> None:
    receiver.answers["/gone"] = [410]
    created = await subscribe(api, receiver.url("/gone"), "launch.completed")

    await send_test(api, created["id"])

    await wait_until(settled(api, created["id"], 1, "failed"))
    shown = await endpoint(api, created["id"])
    assert shown["enabled"] is False
    assert shown["disabledReason"] == "the receiver answered 410 Gone"
    (message,) = await messages(api, created["id"])
    assert [each["statusCode"] for each in message["attempts"]] == [410]


@pytest.mark.parametrize(
    "webhook_overrides",
    [
        {
            "FLOWTRACK_WEBHOOKS_RETRY_SCHEDULE": ",".join(["0"] + ["0.1"] * 50),
            "FLOWTRACK_WEBHOOKS_DISABLE_AFTER_SECONDS": "0.5",
        }
    ],
)
async def test_an_endpoint_that_keeps_failing_is_disabled(
    api: httpx.AsyncClient, flowtrack: RunningServer, receiver: Receiver
) -> None:
    receiver.default = 500
    created = await subscribe(api, receiver.url("/down"), "launch.completed")

    await send_test(api, created["id"])

    async def disabled() -> bool:
        return not (await endpoint(api, created["id"]))["enabled"]

    await wait_until(disabled)
    shown = await endpoint(api, created["id"])
    assert shown["disabledReason"].startswith("every attempt failed since ")
    (message,) = await messages(api, created["id"])
    assert message["state"] == "pending"  # kept: enabling the endpoint sends it again
    assert len(message["attempts"]) > 1
    assert all(each["statusCode"] == 500 for each in message["attempts"])

    receiver.default = 200
    enabled = await api.patch(f"/api/v1/webhook-endpoints/{created['id']}", json={"enabled": True})
    assert enabled.json()["enabled"] is True and enabled.json()["disabledReason"] is None
    await wait_until(settled(api, created["id"], 1, "delivered"))


@pytest.mark.parametrize("webhook_overrides", [{"FLOWTRACK_WEBHOOKS_RETRY_SCHEDULE": "0"}])
async def test_failed_messages_are_resent_and_recovered_with_their_own_ids(
    api: httpx.AsyncClient, flowtrack: RunningServer, receiver: Receiver
) -> None:
    receiver.default = 500
    created = await subscribe(api, receiver.url("/outage"), "launch.completed")
    first, second, third = [await send_test(api, created["id"]) for _ in range(3)]
    await wait_until(settled(api, created["id"], 3, "failed"))
    receiver.default = 200
    failures = len(receiver.received)

    resent = await api.post(f"/api/v1/webhook-messages/{first}/resend")
    assert resent.status_code == 202, resent.text
    await receiver.wait_for(lambda seen: len(seen) == failures + 1)
    assert receiver.received[-1].headers["webhook-id"] == first
    listed = await messages(api, created["id"])
    (since,) = [each["createdAt"] for each in listed if each["messageId"] == second]
    recovered = await api.post(
        f"/api/v1/webhook-endpoints/{created['id']}/recover", json={"since": since}
    )
    assert recovered.status_code == 202, recovered.text
    assert recovered.json() == {"recovered": 2}

    await wait_until(settled(api, created["id"], 3, "delivered"))
    later = {each.headers["webhook-id"] for each in receiver.received[failures:]}
    assert later == {first, second, third}
    again = await api.post("/api/v1/webhook-messages/msg_unknown/resend")
    assert again.status_code == 404
    assert again.json()["error"] == "webhook_message_not_found"


async def test_retry_after_is_honoured_and_redirects_are_not_followed(
    api: httpx.AsyncClient, flowtrack: RunningServer, receiver: Receiver
) -> None:
    receiver.answers["/later"] = [(503, {"retry-after": "120"})]
    receiver.answers["/moved"] = [(302, {"location": receiver.url("/elsewhere")})]
    later = await subscribe(api, receiver.url("/later"), "launch.completed")
    moved = await subscribe(api, receiver.url("/moved"), "launch.completed")

    await send_test(api, later["id"])
    await send_test(api, moved["id"])

    await receiver.wait_for(lambda seen: len(seen) >= 3)  # the redirect's retry, too
    (waiting,) = await messages(api, later["id"])
    (attempt,) = waiting["attempts"]
    waited = datetime.fromisoformat(waiting["nextAttemptAt"]) - datetime.fromisoformat(
        attempt["attemptedAt"]
    )
    assert waited.total_seconds() >= 120
    (redirected,) = await messages(api, moved["id"])
    assert redirected["attempts"][0]["error"] == "answered 302 (redirects are not followed)"
    assert receiver.at("/elsewhere") == []


@pytest.mark.parametrize("webhook_overrides", [{"FLOWTRACK_WEBHOOKS_ENDPOINT_CONCURRENCY": "2"}])
async def test_a_slow_receiver_holds_only_its_own_share_of_deliveries(
    api: httpx.AsyncClient, flowtrack: RunningServer, receiver: Receiver
) -> None:
    receiver.gates["/slow"] = gate = asyncio.Event()
    slow = await subscribe(api, receiver.url("/slow"), "launch.completed")
    fast = await subscribe(api, receiver.url("/fast"), "launch.completed")
    for _ in range(5):
        await send_test(api, slow["id"])

    async def two_held() -> bool:
        return receiver.in_flight.get("/slow", 0) == 2

    await wait_until(two_held)
    await send_test(api, fast["id"])
    await receiver.wait_for(lambda seen: len([s for s in seen if s.path == "/fast"]) == 1)
    assert not gate.is_set()
    gate.set()

    await receiver.wait_for(lambda seen: len([s for s in seen if s.path == "/slow"]) == 5)
    assert receiver.most_in_flight["/slow"] == 2


@pytest.mark.parametrize("webhook_overrides", [{"FLOWTRACK_WEBHOOKS_CONCURRENCY": "3"}])
async def test_no_more_than_the_global_cap_is_in_flight_across_endpoints(
    api: httpx.AsyncClient, flowtrack: RunningServer, receiver: Receiver
) -> None:
    gate = asyncio.Event()
    receiver.gates["/one"] = receiver.gates["/two"] = gate
    for path in ("/one", "/two"):
        created = await subscribe(api, receiver.url(path), "launch.completed")
        for _ in range(4):
            await send_test(api, created["id"])

    async def three_held() -> bool:
        return sum(receiver.in_flight.values()) == 3

    await wait_until(three_held)
    gate.set()

    await receiver.wait_for(lambda seen: len(seen) == 8)
    assert receiver.in_flight == {"/one": 0, "/two": 0}
    assert receiver.most_at_once == 3
