"""``flowtrack audit list`` against a served flowtrack: what the API keys did."""

import asyncio

import httpx
import orjson
import pytest

from receiver.cli import main
from receiver.serving.server import RunningServer
from tests.conftest import READ_KEY

PUBLIC = "https://93.184.215.14/hook"  # a public address: no name to resolve


async def flowtrack(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``flowtrack ARGV`` (in a thread: the server runs on this event loop)."""
    code = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


async def test_audit_list_prints_webhook_writes_newest_first_filtered_and_paged(
    server: RunningServer, api: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    created = await api.post(
        "/api/v1/webhook-endpoints", json={"url": PUBLIC, "eventTypes": ["flow.error"]}
    )
    endpoint_id = created.json()["id"]
    assert (await api.delete(created.headers["location"])).status_code == 204
    at = ("--url", server.base_url, "--key", READ_KEY)

    code, out, _ = await flowtrack(capsys, "audit", "list", *at)
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split() == ["AT", "KEY", "ACTION", "TARGET", "OUTCOME", "DETAIL"]
    assert [row.split()[3:6] for row in rows] == [
        ["webhook_endpoint_delete", endpoint_id, "completed"],
        ["webhook_endpoint_create", endpoint_id, "created"],
    ]
    assert rows[1].split()[6] == "https://93.184.215.14"

    code, out, _ = await flowtrack(
        capsys, "audit", "list", *at, "--action", "webhook_endpoint_create", "--json"
    )
    assert code == 0
    assert [r["target"] for r in orjson.loads(out)["items"]] == [endpoint_id]
    code, out, _ = await flowtrack(capsys, "audit", "list", *at, "--limit", "1")
    assert out.splitlines()[-1].startswith("more: --cursor ")


async def test_audit_list_says_why_when_the_api_refuses(
    server: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = await flowtrack(
        capsys, "audit", "list", "--url", server.base_url, "--key", "not-a-key"
    )
    assert code == 1
    assert err.startswith("flowtrack: ")
