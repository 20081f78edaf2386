"""The operator CLI against a running flowtrack (real HTTP, real database)."""

import asyncio
from typing import Any

import httpx
import orjson
import pytest

from receiver.cli import main
from receiver.serving.server import RunningServer
from receiver.web.index import installed_version
from tests.conftest import CALLBACK_TOKEN, FLOW_CALL, FLOW_HANGS, READ_KEY, WRITE_KEY
from tests.receiver.api.test_dead_letters import store_dead_letter
from tests.receiver.launches.test_sweep import TrackedFactory, tracked  # noqa: F401


async def flowtrack(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``flowtrack ARGV`` (in a thread: the server runs on this event loop)."""
    code = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def at(server: RunningServer, key: str = READ_KEY) -> tuple[str, ...]:
    return ("--url", server.base_url, "--key", key)


async def post_callbacks(server: RunningServer, body: Any) -> httpx.Response:
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {CALLBACK_TOKEN}"}
    ) as http:
        return await http.post("/webhooks/genesys", json=body)


def test_version_names_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"flowtrack {installed_version()}"


@pytest.mark.parametrize(
    "verb",
    [
        ["launches", "list"],
        ["launches", "show"],
        ["launches", "terminate"],
        ["events", "tail"],
        ["dead-letters", "list"],
        ["dead-letters", "replay"],
    ],
)
def test_every_verbs_help_names_the_environment_it_reads(
    verb: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main([*verb, "--help"])
    out = capsys.readouterr().out
    assert "FLOWTRACK_URL" in out
    assert "FLOWTRACK_API_KEY" in out


async def test_launches_are_listed_shown_and_terminated(
    launcher: tuple[RunningServer, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    server, app = launcher
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {WRITE_KEY}"}
    ) as api:
        created = await api.post("/api/v1/launches", json={"flowId": FLOW_HANGS, "name": "o-1"})
    assert created.status_code == 201, created.text
    launch_id = created.json()["id"]

    code, out, _ = await flowtrack(capsys, "launches", "list", *at(server))
    assert code == 0
    heading, row = out.splitlines()[:2]
    assert heading.split()[:3] == ["ID", "STATE", "FLOW"]
    assert row.split()[:4] == [launch_id, "running", FLOW_HANGS, "o-1"]

    code, out, _ = await flowtrack(capsys, "launches", "list", "--json", *at(server))
    assert [item["id"] for item in orjson.loads(out)["items"]] == [launch_id]

    code, out, _ = await flowtrack(capsys, "launches", "show", launch_id, *at(server))
    assert code == 0
    assert f"id:           {launch_id}" in out
    assert "STEP" in out and "start" in out

    code, _, err = await flowtrack(capsys, "launches", "terminate", launch_id, *at(server))
    assert code == 1
    assert "read-only" in err and "(forbidden, HTTP 403)" in err

    await app.state.services.tracker.settled()
    code, out, _ = await flowtrack(
        capsys, "launches", "terminate", launch_id, "--json", *at(server, WRITE_KEY)
    )
    assert code == 0
    assert orjson.loads(out)["id"] == launch_id


async def test_errors_print_the_apis_message_and_exit_non_zero(
    server: RunningServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = await flowtrack(capsys, "launches", "show", "nope", *at(server))
    assert (code, out) == (1, "")
    assert err == "flowtrack: no launch 'nope' (launch_not_found, HTTP 404)\n"

    code, _, err = await flowtrack(capsys, "launches", "list", "--state", "lost", *at(server))
    assert code == 1 and "state: expected one of" in err

    # The URL and key from the environment; no key at all is a 401 that says what to set.
    monkeypatch.setenv("FLOWTRACK_URL", server.base_url)
    monkeypatch.delenv("FLOWTRACK_API_KEY", raising=False)
    code, _, err = await flowtrack(capsys, "launches", "list")
    assert code == 1 and "set FLOWTRACK_API_KEY" in err
    monkeypatch.setenv("FLOWTRACK_API_KEY", READ_KEY)
    code, out, _ = await flowtrack(capsys, "launches", "list")
    assert code == 0 and out.startswith("ID")

    monkeypatch.setenv("FLOWTRACK_URL", "http://127.0.0.1:9")
    code, _, err = await flowtrack(capsys, "events", "tail", "--count", "1")
    assert code == 1 and "cannot reach flowtrack at http://127.0.0.1:9" in err


async def test_events_tail_follows_new_events(
    server: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    first = {"event": "node_enter", "eventId": "e-1", "conversationId": "c-1", "nodeId": "a"}
    assert (await post_callbacks(server, first)).status_code == 200
    tail = asyncio.create_task(
        flowtrack(
            capsys,
            "events",
            "tail",
            "--json",
            "--interval",
            "0.05",
            "--count",
            "3",
            "--conversation",
            "c-1",
            *at(server),
        )
    )
    await asyncio.sleep(0.3)  # a few polls with nothing new
    later = [
        {**first, "eventId": "e-2", "nodeId": "b"},
        {**first, "eventId": "e-3", "event": "complete", "outcome": "completed"},
        {**first, "eventId": "e-4", "conversationId": "c-2"},
    ]
    assert (await post_callbacks(server, later)).status_code == 200
    code, out, _ = await asyncio.wait_for(tail, 10)
    assert code == 0
    events = [orjson.loads(line) for line in out.splitlines()]
    assert [(event["kind"], event["nodeId"]) for event in events] == [
        ("node_enter", "a"),
        ("node_enter", "b"),
        ("complete", "a"),
    ]


async def test_dead_letters_are_listed(
    server: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    refused = await post_callbacks(server, {"hello": "world"})
    assert refused.status_code == 422
    code, out, _ = await flowtrack(capsys, "dead-letters", "list", *at(server))
    assert code == 0
    heading, row = out.splitlines()
    assert heading.split() == ["ID", "RECEIVED", "WEBHOOK-ID", "REASON"]
    assert row.split()[0] == "1"


async def test_a_dead_letter_replayed_from_the_cli_says_what_it_stored(
    server: RunningServer, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Unreadable today too: the CLI prints the API's refusal and exits non-zero.
    refused = await post_callbacks(server, {"event": "start", "flowId": "f-1"})
    assert refused.status_code == 422
    code, _, err = await flowtrack(capsys, "dead-letters", "replay", "1", *at(server, WRITE_KEY))
    assert code != 0
    assert "launchId" in err
    # Readable today (refused by an older reader): stored, and said so.
    readable = {"event": "start", "launchId": "l-cli", "flowId": "f-1"}
    letter_id = await asyncio.to_thread(store_dead_letter, database_url, readable)
    code, out, _ = await flowtrack(
        capsys, "dead-letters", "replay", str(letter_id), "--json", *at(server, WRITE_KEY)
    )
    assert code == 0
    assert orjson.loads(out) == {"deadLetterId": letter_id, "accepted": 1, "duplicates": 0}


async def test_events_tail_prints_a_table_by_default(
    server: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    event = {"event": "node_enter", "eventId": "e-1", "conversationId": "c-1", "nodeId": "ask"}
    assert (await post_callbacks(server, event)).status_code == 200
    code, out, _ = await flowtrack(capsys, "events", "tail", "--count", "1", *at(server))
    assert code == 0
    heading, row = out.splitlines()
    assert heading.split() == [
        "ID",
        "OCCURRED",
        "KIND",
        "SOURCE",
        "LAUNCH",
        "CONVERSATION",
        "NODE",
        "OUTCOME",
    ]
    assert row.split()[3:6] == ["node_enter", "data_action", "-"]
    assert heading.index("KIND") == row.index("node_enter")


async def test_a_terminated_launch_shows_why_it_ended(
    tracked: TrackedFactory,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    flowtrack_app = await tracked()
    launch = await flowtrack_app.launch(FLOW_CALL)
    for _ in range(200):  # the conversation id is learned in the background
        if (await flowtrack_app.launch_state(launch["id"]))["conversationId"]:
            break
        await asyncio.sleep(0.05)
    url = ("--url", str(flowtrack_app.api.base_url).rstrip("/"), "--key", WRITE_KEY)
    code, out, err = await flowtrack(
        capsys, "launches", "terminate", launch["id"], "--reason", "asked by ops", *url
    )
    assert code == 0, err
    # 202 while the disconnect is unconfirmed; on a slow machine the sweep may confirm it
    # first, and the answer is the ended launch.
    assert "termination in progress" in out or "state:        terminated" in out
    await flowtrack_app.until(launch["id"], "terminated")
    code, out, _ = await flowtrack(capsys, "launches", "show", launch["id"], *url)
    assert code == 0
    assert "reason:       termination requested through the API: asked by ops" in out
    assert "error code:   termination_requested" in out
