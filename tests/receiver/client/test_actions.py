"""``flowtrack actions`` against a flowtrack executing through the real sandbox."""

import asyncio

import orjson
import pytest

from receiver.cli import main
from receiver.serving.server import RunningServer
from tests.conftest import LOOKUP_ACCOUNT, READ_KEY, SLOW_REPORT, WRITE_KEY


async def flowtrack(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``flowtrack ARGV`` (in a thread: the server runs on this event loop)."""
    code = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def at(server: RunningServer, key: str = WRITE_KEY) -> tuple[str, ...]:
    return ("--url", server.base_url, "--key", key)


async def test_actions_list_prints_the_org_s_actions(
    action_server: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = await flowtrack(capsys, "actions", "list", *at(action_server, READ_KEY))
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split() == ["ID", "NAME", "CATEGORY", "VERSION", "TIMEOUT"]
    assert any(row.startswith(LOOKUP_ACCOUNT) and "Lookup Account" in row for row in rows)


async def test_actions_run_waits_coerces_and_prints_the_output(
    action_server: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = await flowtrack(
        capsys,
        "actions",
        "run",
        LOOKUP_ACCOUNT,
        "--input",
        '{"accountId": "A-9", "limit": "1"}',
        "--wait",
        "--coerce",
        *at(action_server),
    )
    assert code == 0, out
    assert "state:" in out and "succeeded" in out
    assert "coerced: limit string -> integer" in out
    output = next(line for line in out.splitlines() if line.startswith("output: "))
    assert orjson.loads(output.removeprefix("output: "))["accountId"] == "A-9"


async def test_actions_run_exits_1_when_the_run_fails_or_is_refused(
    action_server: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = await flowtrack(
        capsys,
        "actions",
        "run",
        SLOW_REPORT,
        "--input",
        '{"reportName": "r"}',
        "--wait",
        *at(action_server),
    )
    assert code == 1
    assert "timed_out" in out
    code, _, err = await flowtrack(
        capsys, "actions", "run", LOOKUP_ACCOUNT, "--input", '{"accountId": 7}', *at(action_server)
    )
    assert code == 1
    assert "accountId: 7 is not of type 'string'" in err
    assert "invalid_action_input, HTTP 422" in err
