"""A scripted Genesys behind ``httpx.MockTransport``, a fake clock, and a client on both."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import orjson
import pytest

from receiver.genesys import GenesysClient, GenesysConfig

SECRET = "s3cr3t-client-secret"
Outcome = Callable[[httpx.Request], httpx.Response] | Exception


class FakeClock:
    """Monotonic time that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        # Let other tasks run, as a real sleep would.
        await asyncio.sleep(0)


def reply(
    status: int = 200,
    json: Any = None,
    *,
    text: str | None = None,
    headers: dict[str, str] | None = None,
) -> Callable[[httpx.Request], httpx.Response]:
    """An outcome answering ``status`` with a JSON (or text) body, built fresh each time."""

    def build(request: httpx.Request) -> httpx.Response:
        if text is not None:
            return httpx.Response(status, text=text, headers=headers)
        content = b"" if json is None else orjson.dumps(json)
        merged = {"Content-Type": "application/json", **(headers or {})}
        return httpx.Response(status, content=content, headers=merged)

    return build


def error_body(status: int, code: str, message: str = "nope") -> dict[str, Any]:
    return {"message": message, "code": code, "status": status, "contextId": f"ctx-{status}"}


class FakeGenesys:
    """Login host and API host in one handler. Routes play their outcomes in order and
    repeat the last one; the token endpoint issues ``token-1``, ``token-2``, ..."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], deque[Outcome]] = {}
        self.requests: list[httpx.Request] = []
        self.token_requests: list[httpx.Request] = []
        self.token_outcomes: deque[Outcome] = deque()
        self.expires_in = 86400
        self.token_type = "bearer"

    def on(self, method: str, path: str, *outcomes: Outcome) -> None:
        self.routes[(method, path)] = deque(outcomes)

    def calls(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and r.url.path == path]

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        # Yield once so concurrent callers really interleave.
        await asyncio.sleep(0)
        if request.url.host == "login.test":
            return self._token(request)
        self.requests.append(request)
        queue = self.routes.get((request.method, request.url.path))
        if not queue:
            return reply(404, error_body(404, "not.found"))(request)
        outcome = queue.popleft() if len(queue) > 1 else queue[0]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome(request)

    def _token(self, request: httpx.Request) -> httpx.Response:
        self.token_requests.append(request)
        if self.token_outcomes:
            outcome = self.token_outcomes.popleft()
            if isinstance(outcome, Exception):
                raise outcome
            return outcome(request)
        body = {
            "access_token": f"token-{len(self.token_requests)}",
            "token_type": self.token_type,
            "expires_in": self.expires_in,
        }
        return reply(200, body)(request)


def make_config(**options: Any) -> GenesysConfig:
    return GenesysConfig(
        client_id="client-id",
        client_secret=SECRET,
        api_url="https://api.test",
        login_url="https://login.test",
        **options,
    )


@pytest.fixture
def fake() -> FakeGenesys:
    return FakeGenesys()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def http(fake: FakeGenesys) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(fake)) as client:
        yield client


@pytest.fixture
def build_client(http: httpx.AsyncClient, clock: FakeClock) -> Callable[..., GenesysClient]:
    """Client factory: config options as keyword arguments; jitter fixed at zero."""

    def build(**options: Any) -> GenesysClient:
        return GenesysClient(
            make_config(**options), http, clock=clock, sleep=clock.sleep, random=lambda: 0.0
        )

    return build


@pytest.fixture
def client(build_client: Callable[..., GenesysClient]) -> GenesysClient:
    return build_client()
