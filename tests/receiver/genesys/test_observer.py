from __future__ import annotations

import httpx
import pytest

from receiver.genesys import GenesysClient
from receiver.genesys.observer import operation_of
from tests.receiver.genesys.conftest import FakeClock, FakeGenesys, error_body, make_config, reply

EXECUTION = "/api/v2/flows/executions/e-1"


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, ...]] = []

    def responded(self, operation: str, status: str, seconds: float) -> None:
        self.seen.append(("responded", operation, status))

    def retrying(self, operation: str, status: str) -> None:
        self.seen.append(("retrying", operation, status))

    def token_requested(self, status: str) -> None:
        self.seen.append(("token", status))


@pytest.mark.parametrize(
    ("path", "operation"),
    [
        (
            "/api/v2/flows/executions/7f3e2a1c-0000-4000-8000-000000000001",
            "/api/v2/flows/executions/{id}",
        ),
        (
            "/api/v2/conversations/c1/participants/p2",
            "/api/v2/conversations/{id}/participants/{id}",
        ),
        (
            "/api/v2/integrations/actions/custom_-_abcdefabcdefabcdefabcdefabcdefabcd",
            "/api/v2/integrations/actions/{id}",
        ),
        ("/api/v2/flows/executions", "/api/v2/flows/executions"),
    ],
)
def test_an_operation_is_its_request_with_the_ids_replaced(path: str, operation: str) -> None:
    assert operation_of("GET", path) == f"GET {operation}"


async def test_every_exchange_retry_and_token_request_is_observed(
    fake: FakeGenesys, clock: FakeClock, http: httpx.AsyncClient
) -> None:
    recorder = Recorder()
    client = GenesysClient(
        make_config(), http, clock=clock, sleep=clock.sleep, random=lambda: 0.0, observer=recorder
    )
    fake.on(
        "GET",
        EXECUTION,
        reply(429, error_body(429, "too.many.requests"), headers={"Retry-After": "1"}),
        reply(401, error_body(401, "bad.credentials")),
        reply(200, {"id": "e-1", "status": "RUNNING"}),
    )
    await client.get_execution("e-1")
    operation = "GET /api/v2/flows/executions/{id}"
    assert recorder.seen == [
        ("token", "200"),
        ("responded", operation, "429"),
        ("retrying", operation, "429"),
        ("responded", operation, "401"),
        ("token", "200"),
        ("responded", operation, "200"),
    ]
