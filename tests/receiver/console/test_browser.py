"""The console in a real browser (Debian's Chromium through Playwright), against flowtrack
launching flows through the sandbox. Each page is saved as a screenshot."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Browser

from tests.conftest import (
    CALLBACK_TOKEN,
    FLOW_CALL,
    FLOW_FAILS,
    FLOW_HANGS,
    FLOW_OK,
    READ_KEY,
    WRITE_KEY,
)
from tests.receiver.console.conftest import DESKTOP, PHONE, console_for
from tests.receiver.launches.test_sweep import Tracked, TrackedFactory, tracked  # noqa: F401


async def launched(flowtrack: Tracked, flow_id: str, *states: str, **body: Any) -> dict[str, Any]:
    launch = await flowtrack.launch(flow_id, **body)
    return await flowtrack.until(launch["id"], *states)


async def test_signing_in_with_a_read_key_and_with_a_write_key(
    tracked: TrackedFactory,  # noqa: F811
    chromium: Browser,
    screenshots: Path,
) -> None:
    flowtrack = await tracked(register=False)
    console = await console_for(chromium, flowtrack, screenshots)
    await console.open("/ui/launches")
    assert console.page.url.startswith(console.base_url + "/ui/login")
    await console.shot("login")
    await console.page.get_by_label("API key").fill("not-a-key-0123456789")
    await console.page.get_by_role("button", name="Sign in").click()
    assert await console.page.get_by_role("alert").inner_text() == (
        "that is not an API key this flowtrack knows"
    )
    # Chromium reports the refused sign-in's 401 answer itself; nothing else may appear.
    assert [error for error in console.errors if "status of 401" not in error] == []
    console.errors.clear()
    await console.sign_in(READ_KEY)
    assert "read only" in await console.page.locator(".who").inner_text()
    await console.page.get_by_role("button", name="Sign out").click()
    await console.page.wait_for_url(console.base_url + "/ui/login")
    await console.sign_in(WRITE_KEY)
    assert "write" in await console.page.locator(".who").inner_text()
    assert console.errors == []


async def test_the_overview_counts_the_launches_the_test_made(
    tracked: TrackedFactory,  # noqa: F811
    chromium: Browser,
    screenshots: Path,
) -> None:
    flowtrack = await tracked(FLOWTRACK_SWEEP_ENABLED="0")
    for flow, state in ((FLOW_OK, "completed"), (FLOW_OK, "completed"), (FLOW_FAILS, "failed")):
        await launched(flowtrack, flow, state)
    await launched(flowtrack, FLOW_HANGS, "running")
    console = await console_for(chromium, flowtrack, screenshots)
    await console.sign_in(READ_KEY)
    tiles = console.page.locator(".tile")
    counts = {
        await tile.get_attribute("data-state"): int(await tile.locator(".count").inner_text())
        for tile in await tiles.all()
    }
    assert {state: n for state, n in counts.items() if n} == {
        "completed": 2,
        "failed": 1,
        "running": 1,
    }
    failure = console.page.locator(f'tr[data-flow="{FLOW_FAILS}"][data-state="failed"]')
    assert await failure.locator("td.num").inner_text() == "1"
    assert "DATA_ACTION_FAILED" in await failure.inner_text()
    await console.shot("overview")
    assert console.errors == []


async def test_a_launch_timeline_has_one_bar_per_visit_with_names_and_the_error(
    tracked: TrackedFactory,  # noqa: F811
    chromium: Browser,
    screenshots: Path,
) -> None:
    flowtrack = await tracked(FLOWTRACK_SWEEP_ENABLED="0")
    launch = await launched(flowtrack, FLOW_FAILS, "failed")
    path = (await flowtrack.api.get(f"/api/v1/launches/{launch['id']}/transitions")).json()
    visits = [step for step in path["items"] if step["type"] == "node"]
    console = await console_for(chromium, flowtrack, screenshots)
    await console.sign_in(READ_KEY)
    await console.open(f"/ui/launches/{launch['id']}")
    bars = console.page.locator("svg.timeline g.row.bar")
    assert await bars.count() == len(visits) == 2
    names = [await bar.get_attribute("data-node") for bar in await bars.all()]
    assert names == [visit["nodeName"] for visit in visits] == ["Fetch", "Push"]
    failed = console.page.locator('svg.timeline g.row.bar.error[data-node="Push"]')
    assert "DATA_ACTION_FAILED" in (await failed.locator("text.note").text_content() or "")
    assert await console.page.locator('svg.timeline g.row.bar.ok[data-node="Fetch"]').count() == 1
    assert await console.page.get_by_role("button", name="Terminate").count() == 0
    assert await console.page.locator("table.events tbody tr").count() >= 4
    await console.shot("launch-failed")
    assert console.errors == []


async def test_terminate_ends_a_running_call_at_the_sandbox(
    tracked: TrackedFactory,  # noqa: F811
    chromium: Browser,
    screenshots: Path,
) -> None:
    flowtrack = await tracked()
    launch = await flowtrack.launch(FLOW_CALL)
    for _ in range(200):  # the conversation id is learned in the background
        conversation = (await flowtrack.launch_state(launch["id"]))["conversationId"]
        if conversation:
            break
        await asyncio.sleep(0.05)
    console = await console_for(chromium, flowtrack, screenshots)
    await console.sign_in(WRITE_KEY)
    await console.open(f"/ui/launches/{launch['id']}")
    await console.shot("launch-running")
    console.page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await console.page.get_by_label("Reason for terminating").fill("seen stuck in the console")
    await console.page.get_by_role("button", name="Terminate").click()
    await console.page.wait_for_url("**/ui/launches/*?terminate=*")
    assert await console.page.get_by_role("status").count() == 1
    ended = await flowtrack.until(launch["id"], "terminated")
    assert (await flowtrack.disconnects()) == {ended["conversationId"]: 1}
    await console.page.reload()
    assert "terminated" in await console.page.locator(".facts .state").inner_text()
    assert await console.page.get_by_role("button", name="Terminate").count() == 0
    audit = await flowtrack.api.get("/api/v1/audit", params={"action": "terminate"})
    (entry,) = audit.json()["items"]
    # The write key of the tests is bare: its name is its fingerprint.
    assert entry["keyName"].startswith("key-")
    assert (entry["target"], entry["detail"]) == (launch["id"], "seen stuck in the console")
    await console.open(f"/ui/conversations/{ended['conversationId']}")
    await console.shot("conversation")
    assert console.errors == []


async def test_a_read_key_cannot_terminate_and_a_post_without_its_token_is_refused(
    tracked: TrackedFactory,  # noqa: F811
    chromium: Browser,
    screenshots: Path,
) -> None:
    flowtrack = await tracked(register=False, FLOWTRACK_SWEEP_ENABLED="0")
    launch = await flowtrack.launch(FLOW_HANGS)
    target = f"/ui/launches/{launch['id']}/terminate"
    reader = await console_for(chromium, flowtrack, screenshots)
    await reader.sign_in(READ_KEY)
    await reader.open(f"/ui/launches/{launch['id']}")
    assert await reader.page.get_by_role("button", name="Terminate").count() == 0
    refused = await reader.page.request.post(
        reader.base_url + target, form={"csrf": await reader.csrf(), "reason": "no"}
    )
    assert refused.status == 403
    assert "read-only key" in await refused.text()
    writer = await console_for(chromium, flowtrack, screenshots)
    await writer.sign_in(WRITE_KEY)
    forged = await writer.page.request.post(writer.base_url + target, form={"reason": "no"})
    assert forged.status == 403
    assert "csrf_refused" in await forged.text()
    assert (await flowtrack.launch_state(launch["id"]))["state"] == "running"
    assert reader.errors == writer.errors == []


async def test_the_flow_graph_shows_the_observed_nodes_and_edges(
    tracked: TrackedFactory,  # noqa: F811
    chromium: Browser,
    screenshots: Path,
) -> None:
    flowtrack = await tracked(FLOWTRACK_SWEEP_ENABLED="0")
    for _ in range(2):
        await launched(flowtrack, FLOW_OK, "completed")
    console = await console_for(chromium, flowtrack, screenshots)
    await console.sign_in(READ_KEY)
    for _ in range(100):  # statistics may trail the events by a moment
        await console.open(f"/ui/flows/{FLOW_OK}")
        if await console.page.locator("[data-runs]").inner_text() == "2":
            break
        await asyncio.sleep(0.1)
    nodes = console.page.locator("svg.graph g.node")
    assert {await node.get_attribute("data-node") for node in await nodes.all()} == {
        "prepare",
        "lookup",
        "notify",
    }
    edges = {
        (
            await edge.get_attribute("data-from"),
            await edge.get_attribute("data-to"),
            await edge.get_attribute("data-transitions"),
        )
        for edge in await console.page.locator("svg.graph g.edge").all()
    }
    assert edges == {("prepare", "lookup", "2"), ("lookup", "notify", "2")}
    prepare = console.page.locator('svg.graph g.node[data-node="prepare"]')
    assert "2 in" in (await prepare.text_content() or "")
    await console.shot("flow")
    assert console.errors == []


async def test_no_page_has_javascript_errors_on_a_desktop_or_a_phone(
    tracked: TrackedFactory,  # noqa: F811
    chromium: Browser,
    screenshots: Path,
) -> None:
    flowtrack = await tracked(FLOWTRACK_SWEEP_ENABLED="0")
    done = await launched(flowtrack, FLOW_OK, "completed")
    await launched(flowtrack, FLOW_FAILS, "failed")
    await flowtrack.launch(FLOW_HANGS)
    async with httpx.AsyncClient(
        base_url=str(flowtrack.api.base_url),
        headers={"Authorization": f"Bearer {CALLBACK_TOKEN}"},
    ) as callbacks:
        letter = await callbacks.post("/webhooks/genesys", json={"hello": "not an event"})
        assert letter.status_code == 422
    pages = {
        "overview": "/ui/",
        "launches": "/ui/launches",
        "launches-running": "/ui/launches?state=running",
        "launch": f"/ui/launches/{done['id']}",
        "flows": "/ui/flows",
        "flow-failing": f"/ui/flows/{FLOW_FAILS}?range=24h",
        "dead-letters": "/ui/dead-letters",
    }
    for width, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        console = await console_for(chromium, flowtrack, screenshots, viewport)
        await console.sign_in(READ_KEY)
        for name, path in pages.items():
            await console.open(path)
            await console.page.wait_for_load_state("networkidle")
            await console.shot(f"{name}-{width}")
            overflow = await console.page.evaluate(
                "document.documentElement.scrollWidth - window.innerWidth"
            )
            assert overflow <= 1, f"{path} is wider than the {width} screen by {overflow}px"
        if width == "desktop":
            # The running launch keeps the list refreshing: a launch made after the page
            # was loaded shows up in it without a reload.
            await console.open("/ui/launches")
            later = await launched(flowtrack, FLOW_OK, "completed")
            row = console.page.locator(f'tr[data-launch="{later["id"]}"]')
            await row.wait_for(timeout=8000)
            assert "completed" in await row.inner_text()
        assert console.errors == [], width
