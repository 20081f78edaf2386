"""Data action runs in the console, in a real browser, executed by the real sandbox."""

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
from playwright.async_api import Browser

from tests.conftest import FLAKY_LOOKUP, LOOKUP_ACCOUNT, READ_KEY
from tests.receiver.console.conftest import console_for

WAIT = {"Prefer": "wait=20"}


async def test_runs_are_listed_with_state_and_latency_and_a_run_shows_input_output_attempts(
    action_api: httpx.AsyncClient,
    action_sandbox: Any,
    chromium: Browser,
    screenshots: Path,
) -> None:
    ok = await action_api.post(
        f"/api/v1/actions/{LOOKUP_ACCOUNT}/runs",
        json={"input": {"accountId": "A-7", "limit": "2"}, "coerce": True},
        headers=WAIT,
    )
    assert ok.status_code == 201, ok.text
    succeeded = ok.json()
    failing = await action_api.post(
        f"/api/v1/actions/{FLAKY_LOOKUP}/runs",
        json={"input": {"key": "k1", "fail": True}},
        headers=WAIT,
    )
    failed = failing.json()
    assert failed["state"] == "failed", failed
    console = await console_for(chromium, SimpleNamespace(api=action_api), screenshots)
    await console.sign_in(READ_KEY)
    await console.open("/ui/actions")
    rows = console.page.locator("table.runs tbody tr")
    assert await rows.count() == 2
    listed = console.page.locator(f'tr[data-run="{succeeded["id"]}"]')
    assert "succeeded" in await listed.inner_text()
    assert await listed.locator("td.num").inner_text() != "—"  # its latency
    failure = console.page.locator(f'tr[data-run="{failed["id"]}"]')
    assert failed["failureReason"] in await failure.inner_text()
    await console.shot("actions")
    await listed.get_by_role("link").click()
    await console.page.wait_for_url(f"**/ui/actions/runs/{succeeded['id']}")
    await console.shot("action-run")
    shown = await console.page.locator("pre.json").all_inner_texts()
    assert '"accountId": "A-7"' in shown[0] and '"limit": 2' in shown[0]
    assert '"name": "Account A-7"' in shown[1]
    attempt = console.page.locator("table.attempts tbody tr")
    assert await attempt.count() == len(succeeded["attempts"]) == 1
    assert "200" in await attempt.inner_text()
    assert "limit" in await console.page.locator("ul.plain").inner_text()  # the coercion
    await console.open(f"/ui/actions/runs/{failed['id']}")
    assert failed["failureReason"] in await console.page.locator(".facts").inner_text()
    assert console.errors == []
