"""The demo's webhook receiver (#17): a tiny local endpoint subscribed to launch ends and
flow errors, which checks each message's signature and prints what it got."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from starlette.types import Receive, Scope, Send

from receiver.serving.server import running_server
from receiver.webhooks import signing

#: The demo's receiver listens on 127.0.0.1 over plain http.
SETTINGS = {
    "FLOWTRACK_WEBHOOKS_ALLOW_HTTP": "1",
    "FLOWTRACK_WEBHOOKS_ALLOW_PRIVATE": "1",
    "FLOWTRACK_WEBHOOKS_POLL_SECONDS": "0.2",
}
TYPES = [
    "launch.completed",
    "launch.failed",
    "launch.timed_out",
    "launch.terminated",
    "launch.launch_failed",
    "launch.termination_failed",
    "flow.error",
]
ENDED = {kind.removeprefix("launch.") for kind in TYPES if kind.startswith("launch.")}


@dataclass
class Inbox:
    """What the receiver got: each body with whether its signature verified."""

    url: str = ""
    secret: str = ""
    got: list[tuple[dict[str, Any], bool, str]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body, more = b"", True
        while more:
            message = await receive()
            body, more = body + message.get("body", b""), message.get("more_body", False)
        headers = {key.decode(): value.decode() for key, value in scope["headers"]}
        self.got.append((orjson.loads(body), self._verified(headers, body), headers["webhook-id"]))
        self.arrived.set()
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def _verified(self, headers: dict[str, str], body: bytes) -> bool:
        expected = signing.sign(
            self.secret, headers["webhook-id"], int(headers["webhook-timestamp"]), body
        )
        return expected in headers["webhook-signature"].split(" ")


@contextlib.asynccontextmanager
async def receiving() -> AsyncIterator[Inbox]:
    """The receiver, on a free port."""
    inbox = Inbox()
    async with running_server(inbox) as running:
        inbox.url = f"{running.base_url}/flowtrack-events"
        yield inbox


async def subscribe(api: httpx.AsyncClient, inbox: Inbox, say: Callable[[str], None]) -> None:
    """Subscribe the receiver to launch ends and flow errors."""
    response = await api.post(
        "/api/v1/webhook-endpoints",
        json={"url": inbox.url, "eventTypes": TYPES, "description": "the demo's receiver"},
    )
    response.raise_for_status()
    inbox.secret = response.json()["secret"]
    say(f"  webhook receiver on {inbox.url}, subscribed to launch ends and flow errors")


async def show(
    api: httpx.AsyncClient,
    inbox: Inbox,
    say: Callable[[str], None],
    describe: Callable[[str], str],
) -> None:
    """Print what the receiver got, once every ended launch's message is in (or 10 s)."""
    listed = (await api.get("/api/v1/launches", params={"limit": "1000"})).json()["items"]
    ended = sum(launch["state"] in ENDED for launch in listed)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(10):
            while sum(body["type"].startswith("launch.") for body, _, _ in inbox.got) < ended:
                inbox.arrived.clear()
                await inbox.arrived.wait()
    kinds = Counter(body["type"] for body, _, _ in inbox.got)
    signed = sum(verified for _, verified, _ in inbox.got)
    say("")
    say(f"webhooks: the demo's receiver got {len(inbox.got)} signed messages ({signed} verified)")
    for kind, count in sorted(kinds.items()):
        say(f"  {count:3} {kind}")
    for body, verified, message_id in inbox.got[:4]:
        data = body["data"]
        about = describe(data["launchId"]) if data.get("launchId") else "-"
        mark = "signature ok" if verified else "SIGNATURE WRONG"
        say(f"  {message_id}  {body['type']:18} {about}  ({mark})")
