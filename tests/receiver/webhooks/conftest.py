"""A webhook receiver the tests run, and flowtrack set up to deliver to it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest
from starlette.types import Receive, Scope, Send

from receiver.app import create_app
from receiver.serving.server import RunningServer, running_server
from storage.engine import make_engine
from storage.launches import NewLaunch, insert_launch, mark_launched
from tests.conftest import CALLBACK_TOKEN, WRITE_KEY, settings_for
from tests.polling import poll_until

#: What tests set so flowtrack delivers to a receiver on 127.0.0.1 quickly.
FAST = {
    "FLOWTRACK_WEBHOOKS_ALLOW_HTTP": "1",
    "FLOWTRACK_WEBHOOKS_ALLOW_PRIVATE": "1",
    "FLOWTRACK_WEBHOOKS_POLL_SECONDS": "0.05",
    "FLOWTRACK_WEBHOOKS_RETRY_SCHEDULE": "0,0.2,0.2",
    "FLOWTRACK_WEBHOOKS_TIMEOUT_SECONDS": "5",
}


@dataclass
class Received:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Receiver:
    """An HTTP server that records every POST and answers as told (per path).

    ``answers[path]`` is a list of statuses used up one per request, then ``default``;
    a ``gate`` holds every request to that path until it is set.
    """

    answers: dict[str, list[int | tuple[int, dict[str, str]]]] = field(default_factory=dict)
    default: int = 200
    received: list[Received] = field(default_factory=list)
    gates: dict[str, asyncio.Event] = field(default_factory=dict)
    in_flight: dict[str, int] = field(default_factory=dict)
    most_in_flight: dict[str, int] = field(default_factory=dict)
    most_at_once: int = 0
    base_url: str = ""
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    def url(self, path: str) -> str:
        return self.base_url + path

    def at(self, path: str) -> list[Received]:
        return [each for each in self.received if each.path == path]

    async def wait_for(
        self, check: Callable[[list[Received]], bool], within: float = 20
    ) -> list[Received]:
        """Wait until ``check(received)`` holds (a test fails if it never does)."""
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(lambda: check(self.received))
        return self.received

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        path = scope["path"]
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.in_flight[path] = self.in_flight.get(path, 0) + 1
        self.most_in_flight[path] = max(self.most_in_flight.get(path, 0), self.in_flight[path])
        self.most_at_once = max(self.most_at_once, sum(self.in_flight.values()))
        try:
            gate = self.gates.get(path)
            if gate is not None:
                await gate.wait()
            planned = self.answers.get(path) or []
            answer = planned.pop(0) if planned else self.default
        finally:
            self.in_flight[path] -= 1
        status, extra = answer if isinstance(answer, tuple) else (answer, {})
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        async with self._changed:
            self.received.append(Received(path, headers, body))
            self._changed.notify_all()
        reply = [(b"content-type", b"text/plain")]
        reply += [(k.encode(), v.encode()) for k, v in extra.items()]
        await send({"type": "http.response.start", "status": status, "headers": reply})
        await send({"type": "http.response.body", "body": b"ok" if status < 300 else b"no"})


async def wait_until(check: Callable[[], Awaitable[bool]], within: float = 20) -> None:
    """Poll an async ``check`` until it holds; fail when it never does within ``within`` s."""
    await poll_until(check, bool, within, every=0.05)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """The webhook receiver, served on a free port."""
    recorder = Receiver()
    async with running_server(recorder) as running:
        recorder.base_url = running.base_url
        yield recorder


@pytest.fixture
def webhook_overrides() -> dict[str, str]:
    """Settings a test module may replace (FLOWTRACK_ names), on top of :data:`FAST`."""
    return {}


@pytest.fixture
async def flowtrack(
    database_url: str, webhook_overrides: dict[str, str]
) -> AsyncIterator[RunningServer]:
    """flowtrack, delivering webhooks to 127.0.0.1 fast."""
    app = create_app(settings_for(database_url, **{**FAST, **webhook_overrides}))
    async with running_server(app) as running:
        yield running


@pytest.fixture
async def api(flowtrack: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    """A write-key client of that flowtrack."""
    async with httpx.AsyncClient(
        base_url=flowtrack.base_url, headers={"Authorization": f"Bearer {WRITE_KEY}"}, timeout=10
    ) as http:
        yield http


async def subscribe(api: httpx.AsyncClient, url: str, *types: str, **more: Any) -> dict[str, Any]:
    """Create an endpoint; its representation with the secret."""
    response = await api.post(
        "/api/v1/webhook-endpoints", json={"url": url, "eventTypes": list(types), **more}
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


FLOW = "aaaaaaaa-0000-4000-8000-00000000000a"
OTHER_FLOW = "aaaaaaaa-0000-4000-8000-00000000000b"


def running_launch(database_url: str, launch_id: str, flow_id: str = FLOW) -> None:
    """A launch flowtrack started, running (as the launch service leaves it)."""
    engine = make_engine(database_url)
    now = datetime.now(UTC)
    try:
        insert_launch(
            engine,
            NewLaunch(launch_id, flow_id, None, "webhook test", None, None, None, None, now, None),
        )
        mark_launched(engine, launch_id, f"x-{launch_id}", now)
    finally:
        engine.dispose()


async def end_launch(
    base_url: str, launch_id: str, *, flow_id: str = FLOW, error: bool = False
) -> None:
    """The flow reports its start and its end (with an error first when ``error``)."""
    at = "2026-03-02T10:15:0{}Z"
    bodies: list[dict[str, Any]] = [
        {"event": "start", "eventId": f"{launch_id}-s", "occurredAt": at.format(1)},
    ]
    if error:
        bodies.append(
            {
                "event": "error",
                "eventId": f"{launch_id}-e",
                "occurredAt": at.format(2),
                "nodeId": "push",
                "errorCode": "DATA_ACTION_FAILED",
                "errorMessage": "the CRM answered 500",
            }
        )
    bodies.append({"event": "complete", "eventId": f"{launch_id}-c", "occurredAt": at.format(3)})
    for body in bodies:
        body |= {"launchId": launch_id, "flowId": flow_id, "flowExecutionId": f"x-{launch_id}"}
    async with httpx.AsyncClient(
        base_url=base_url, headers={"Authorization": f"Bearer {CALLBACK_TOKEN}"}, timeout=10
    ) as http:
        response = await http.post("/webhooks/genesys", json=bodies)
    assert response.status_code == 200, response.text
