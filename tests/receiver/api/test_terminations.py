import asyncio

import pytest

from tests.conftest import FLOW_CALL, FLOW_HANGS
from tests.receiver.launches.test_sweep import TrackedFactory, tracked  # noqa: F401


async def test_a_terminate_reason_is_kept_in_the_launch_history(tracked: TrackedFactory) -> None:  # noqa: F811
    flowtrack = await tracked(FLOWTRACK_SWEEP_ENABLED="0")
    launch = await flowtrack.launch(FLOW_HANGS)
    response = await flowtrack.api.post(
        f"/api/v1/launches/{launch['id']}/terminate", json={"reason": "customer hung up"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "terminated"
    requested = [
        e["errorMessage"]
        for e in await flowtrack.history(launch["id"])
        if e["errorCode"] == "termination_requested"
    ]
    assert requested == ["termination requested through the API: customer hung up"]


async def test_terminate_answers_202_until_the_disconnect_is_confirmed_then_200(
    tracked: TrackedFactory,  # noqa: F811
) -> None:
    # The fixture's sweep confirms after 0.1 s: on a loaded machine that can beat the answer.
    flowtrack = await tracked(FLOWTRACK_SWEEP_CONFIRM_SECONDS="1")
    launch = await flowtrack.launch(FLOW_CALL)
    for _ in range(200):  # the conversation id is learned in the background
        if (await flowtrack.launch_state(launch["id"]))["conversationId"]:
            break
        await asyncio.sleep(0.05)
    first = await flowtrack.api.post(f"/api/v1/launches/{launch['id']}/terminate")
    assert first.status_code == 202, first.text
    assert first.json()["state"] == "running"
    await flowtrack.until(launch["id"], "terminated")
    again = await flowtrack.api.post(f"/api/v1/launches/{launch['id']}/terminate")
    assert again.status_code == 200
    assert again.json()["state"] == "terminated"


@pytest.mark.parametrize(
    ("content", "content_type", "status", "error"),
    [
        (b'{"reason": "' + b"x" * 501 + b'"}', "application/json", 422, "invalid_termination"),
        (b'{"because": "x"}', "application/json", 422, "invalid_termination"),
        (b'{"reason": "x"}', "text/plain", 415, "unsupported_media_type"),
        (b'{"reason": ', "application/json", 400, "malformed_json"),
    ],
)
async def test_a_bad_terminate_body_is_refused_and_nothing_is_ended(
    tracked: TrackedFactory,  # noqa: F811
    content: bytes,
    content_type: str,
    status: int,
    error: str,
) -> None:
    flowtrack = await tracked(register=False, FLOWTRACK_SWEEP_ENABLED="0")
    launch = await flowtrack.launch(FLOW_HANGS)
    response = await flowtrack.api.post(
        f"/api/v1/launches/{launch['id']}/terminate",
        content=content,
        headers={"Content-Type": content_type},
    )
    assert (response.status_code, response.json()["error"]) == (status, error)
    assert (await flowtrack.launch_state(launch["id"]))["state"] == "running"
