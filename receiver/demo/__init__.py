"""``flowtrack demo``: flowtrack on a local SQLite file, with the sandbox as Genesys.

Everything runs in this one process and on this machine (no network): the sandbox serves
the Genesys API, flowtrack registers its data action there, launches a mix of flows
through its own REST API and follows them — some complete, one fails at a node, a call
hangs and is disconnected on its short timeout, and a workflow that cannot be cancelled
is told to stop at its next callback. The terminal shows live progress, then a launch's
transition history and a flow's stats, and how to explore further while it keeps running.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from receiver.app import create_app
from receiver.demo import actions, console, tracking, webhooks
from receiver.registration.register import register_from_settings
from receiver.serving.server import running_server
from receiver.settings import Settings
from sandbox.config import SandboxConfig
from sandbox.server import running_sandbox
from storage.engine import make_engine
from storage.migrations import upgrade
from storage.vocabulary import COMPLETE, FLOWTRACK

ORDER = "d3000000-0000-4000-8000-000000000001"
BILLING = "d3000000-0000-4000-8000-000000000002"
CALLBACK = "d3000000-0000-4000-8000-000000000003"
APPROVAL = "d3000000-0000-4000-8000-000000000004"


def _step(node_id: str, kind: str, name: str, ms: int, nxt: str | None, **extra: Any) -> Any:
    node = {"id": node_id, "type": kind, "name": name, "duration_ms": ms, **extra}
    if nxt:
        node["next"] = nxt
    return node


DEMO_FLOWS: list[dict[str, Any]] = [
    {
        "id": ORDER,
        "name": "Order follow-up",
        "type": "workflow",
        "nodes": [
            _step("load-order", "CallData", "Load order", 300, "check-stock"),
            _step("check-stock", "Decision", "Check stock", 200, "notify"),
            _step("notify", "SendEmail", "Notify customer", 400, "close"),
            _step("close", "UpdateData", "Close task", 150, None),
        ],
    },
    {
        "id": BILLING,
        "name": "Billing sync",
        "type": "workflow",
        "nodes": [
            _step("fetch", "CallData", "Fetch invoices", 300, "push"),
            _step(
                "push",
                "CallData",
                "Push to billing",
                300,
                None,
                error_probability=1.0,
                error_code="DATA_ACTION_FAILED",
            ),
        ],
    },
    {
        "id": CALLBACK,
        "name": "Customer callback",
        "type": "workflow",
        "conversation": True,
        "nodes": [
            _step("dial", "Task", "Dial customer", 300, "play"),
            _step("play", "PlayAudio", "Play message", 300, None, hang_probability=1.0),
        ],
    },
    {
        "id": APPROVAL,
        "name": "Nightly approval",
        "type": "workflow",
        "nodes": [
            _step(
                f"check-{n}", "Task", f"Check batch {n}", 700, f"check-{n + 1}" if n < 29 else None
            )
            for n in range(30)
        ],
    },
]

DEMO_FLOWS.append(tracking.FLOW)

# (flow, how many, launch options, what should happen)
PLAN: list[tuple[str, int, dict[str, Any], str]] = [
    (ORDER, 6, {}, "completes"),
    (BILLING, 3, {}, "fails at 'Push to billing'"),
    (CALLBACK, 2, {"timeoutSeconds": 4}, "hangs; disconnected after 4 s"),
    (APPROVAL, 1, {"timeoutSeconds": 3}, "pure workflow; told to stop after 3 s"),
    tracking.PLAN_ENTRY,
]
END_STATES = {
    "completed",
    "failed",
    "terminated",
    "timed_out",
    "launch_failed",
    "termination_failed",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=8000, help="flowtrack's port (8000)")
    parser.add_argument("--sandbox-port", type=int, default=8010, help="the sandbox's port (8010)")
    parser.add_argument(
        "--database",
        default=None,
        help="SQLite file to keep (default: a fresh database in a temporary folder, "
        "removed when the demo stops)",
    )
    parser.add_argument(
        "--exit-when-done", action="store_true", help="stop once every launch has ended"
    )


def run(args: argparse.Namespace) -> int:
    """Entry point of ``flowtrack demo``."""
    try:
        return asyncio.run(_demo(args))
    except KeyboardInterrupt:
        return 0


async def _demo(args: argparse.Namespace) -> int:
    if args.database is not None:
        return await _demo_on(args, Path(args.database))
    # Each run starts from nothing, so what it prints is what this run did.
    with tempfile.TemporaryDirectory(prefix="flowtrack-demo-") as folder:
        return await _demo_on(args, Path(folder) / "flowtrack-demo.db")


async def _demo_on(args: argparse.Namespace, path: Path) -> int:
    out = _Terminal()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    database = await asyncio.to_thread(path.resolve)
    url = f"sqlite:///{database}"
    api_key = "demo-" + secrets.token_hex(12)
    token = "demo-callback-" + secrets.token_hex(12)
    sandbox_url = f"http://127.0.0.1:{args.sandbox_port}"
    flowtrack_url = f"http://127.0.0.1:{args.port}"
    settings = Settings.from_env(
        {
            "FLOWTRACK_DATABASE_URL": url,
            "FLOWTRACK_CALLBACK_TOKENS": token,
            "FLOWTRACK_API_KEYS": api_key,
            "FLOWTRACK_UI_SECRET": secrets.token_urlsafe(32),
            "FLOWTRACK_GENESYS_CLIENT_ID": "sandbox",
            "FLOWTRACK_GENESYS_CLIENT_SECRET": "sandbox",
            "FLOWTRACK_GENESYS_API_URL": sandbox_url,
            "FLOWTRACK_GENESYS_LOGIN_URL": sandbox_url,
            "FLOWTRACK_PUBLIC_URL": flowtrack_url,
            "FLOWTRACK_SWEEP_INTERVAL": "1",
            "FLOWTRACK_SWEEP_CONFIRM_SECONDS": "0.5",
            "FLOWTRACK_SQLITE_SYNCHRONOUS": "normal",
            "FLOWTRACK_LOG_LEVEL": "WARNING",
            **tracking.SETTINGS,
            **webhooks.SETTINGS,
        }
    )
    out.say(f"flowtrack demo — database {database}")
    engine = make_engine(url)
    await asyncio.to_thread(upgrade, engine)
    engine.dispose()
    out.say("  schema migrated (Alembic)")
    sandbox_config = SandboxConfig(
        flows=DEMO_FLOWS, seed=42, disconnect_delay_seconds=0.3, sample_actions=True
    )
    async with (
        running_sandbox(sandbox_config, port=args.sandbox_port) as sandbox,
        running_server(create_app(settings), port=args.port) as server,
        webhooks.receiving() as inbox,
        httpx.AsyncClient(
            base_url=server.base_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=30
        ) as api,
    ):
        out.say(f"  sandbox (standing in for Genesys Cloud) on {sandbox.base_url}")
        out.say(f"  flowtrack on {server.base_url}")
        report = await register_from_settings(replace(settings, public_url=server.base_url))
        for change in report.resources:
            out.say(f"  registered {change.kind} {change.outcome}: {change.name}")
        await webhooks.subscribe(api, inbox, out.say)
        launches = await _launch_all(api, out)
        finished = await _follow(api, launches, out, stop)
        if finished:
            await _show_results(api, launches, out)
            await actions.show(api, out.say)
            await webhooks.show(api, inbox, out.say, short_id)
        if not args.exit_when_done:
            _explore(out, server.base_url, api_key, launches[0]["id"])
        # Last, where the eye lands: the console and the key that signs in to it.
        console.announce(out.say, server.base_url, api_key, settings)
        if not args.exit_when_done:
            await stop.wait()
        out.say("stopping …")
    out.say("stopped cleanly")
    return 0 if finished else 1


def _explore(out: _Terminal, base_url: str, api_key: str, launch_id: str) -> None:
    out.say("")
    out.say("Explore while it runs (Ctrl-C stops everything):")
    out.say(f"  export KEY={api_key}")
    for path in (
        "/api/v1/launches",
        f"/api/v1/launches/{launch_id}",
        f"/api/v1/launches/{launch_id}/transitions",
        f"/api/v1/flows/{ORDER}/stats",
        "/api/v1/flows",
        "/api/v1/events?limit=20",
    ):
        out.say(f'  curl -s -H "Authorization: Bearer $KEY" "{base_url}{path}"')
    out.say(f"  {base_url}/docs  (the API reference)")
    out.say(
        f'  launch another: curl -s -X POST -H "Authorization: Bearer $KEY" '
        f"-H 'content-type: application/json' -d '{{\"flowId\": \"{ORDER}\"}}' "
        f"{base_url}/api/v1/launches"
    )


async def _launch_all(api: httpx.AsyncClient, out: _Terminal) -> list[dict[str, Any]]:
    launches: list[dict[str, Any]] = []
    for flow_id, count, options, expectation in PLAN:
        name = next(flow["name"] for flow in DEMO_FLOWS if flow["id"] == flow_id)
        for _ in range(count):
            response = await api.post("/api/v1/launches", json={"flowId": flow_id, **options})
            response.raise_for_status()
            launches.append(response.json())
        out.say(f"  launched {count} x {name} ({expectation})")
    return launches


async def _follow(
    api: httpx.AsyncClient, launches: list[dict[str, Any]], out: _Terminal, stop: asyncio.Event
) -> bool:
    ids = {launch["id"] for launch in launches}
    started = time.monotonic()
    while not stop.is_set():
        listed = (await api.get("/api/v1/launches", params={"limit": "1000"})).json()["items"]
        mine = [launch for launch in listed if launch["id"] in ids]
        states = Counter(launch["state"] for launch in mine)
        events = (await api.get("/api/v1/events", params={"limit": "1000"})).json()["items"]
        terminations = sum(1 for e in events if e["source"] == FLOWTRACK and e["kind"] == COMPLETE)
        line = ", ".join(f"{state} {count}" for state, count in sorted(states.items()))
        out.status(
            f"  {time.monotonic() - started:5.1f} s  launches: {line}  |  events: {len(events)}"
            f"{'+' if len(events) == 1000 else ''}  |  terminations: {terminations}"
        )
        if sum(count for state, count in states.items() if state in END_STATES) == len(ids):
            out.end_status()
            return True
        if time.monotonic() - started > 60:
            out.end_status()
            out.say("  some launches did not end within 60 s")
            return False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)
    out.end_status()
    return False


async def _show_results(
    api: httpx.AsyncClient, launches: list[dict[str, Any]], out: _Terminal
) -> None:
    out.say("")
    for launch in launches:
        final = (await api.get(f"/api/v1/launches/{launch['id']}")).json()
        current = final["currentNode"]
        # A flow followed by the platform alone reports node ids, not names.
        node = (current["name"] or current["id"]) if current else "—"
        out.say(
            f"  {short_id(final['id'])}  {_flow_name(final['flowId']):18} {final['state']:12} "
            f"at {node}"
        )
    sample = next(launch for launch in launches if launch["flowId"] == CALLBACK)
    out.say("")
    out.say(f"Transition history of a timed-out call ({sample['id']}):")
    out.say(f"  {'at':12} {'step':10} {'node':22} {'duration':>9}  {'source':12} outcome")
    transitions = await api.get(f"/api/v1/launches/{sample['id']}/transitions")
    for item in transitions.json().get("items", []) if transitions.status_code == 200 else []:
        out.say("  " + _describe(item))
    await tracking.show(api, launches, out.say, _describe)
    stats = await api.get(f"/api/v1/flows/{ORDER}/stats")
    if stats.status_code == 200:
        body = stats.json()
        out.say("")
        out.say(f"Stats of {_flow_name(ORDER)}:")
        by_state = ", ".join(f"{k} {v}" for k, v in body["launches"]["byState"].items() if v)
        out.say(f"  launches: {by_state}")
        if body["paths"]:
            top = body["paths"][0]
            out.say(f"  most frequent path ({top['runs']} runs): {' → '.join(top['nodeIds'])}")
        for node in body.get("nodes", []):
            duration = node.get("durationMs") or {}
            counts = f"entries {node.get('entries')}  exits {node.get('exits')}"
            out.say(
                f"  {node.get('nodeId'):14} {counts}  errors {node.get('errors')}"
                f"  p50 {duration.get('p50')} ms"
            )


def _describe(item: dict[str, Any]) -> str:
    kind = item.get("type") or item.get("kind") or "?"
    at = item.get("at") or ""
    what = item.get("nodeName") or item.get("nodeId") or item.get("outcome") or ""
    detail = item.get("errorCode") or item.get("outcome") or item.get("message") or ""
    duration = f"{item['durationMs']} ms" if item.get("durationMs") is not None else ""
    source = item.get("source") or ""
    return f"{at[11:23]:12} {kind:10} {what:22} {duration:>9}  {source:12} {detail}".rstrip()


def short_id(launch_id: str) -> str:
    """The last 8 hex digits of a launch id: its random part.

    Launch ids are UUIDv7: their first digits are a timestamp, the same for every launch
    of one second, so the end is what tells two launches apart.
    """
    return launch_id.replace("-", "")[-8:]


def _flow_name(flow_id: str) -> str:
    return next((flow["name"] for flow in DEMO_FLOWS if flow["id"] == flow_id), flow_id)


class _Terminal:
    """Progress on one rewritten line on a terminal, plain lines elsewhere (logs, CI)."""

    def __init__(self) -> None:
        self._tty = sys.stdout.isatty()
        self._last = ""
        self._open = False

    def say(self, text: str) -> None:
        self.end_status()
        print(text, flush=True)

    def status(self, text: str) -> None:
        if self._tty:
            sys.stdout.write("\r\x1b[K" + text)
            sys.stdout.flush()
            self._open = True
        elif text.split("|")[0][9:] != self._last:
            self._last = text.split("|")[0][9:]
            print(text, flush=True)

    def end_status(self) -> None:
        if self._open:
            sys.stdout.write("\n")
            self._open = False
