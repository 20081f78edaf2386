"""The sandbox's own little remote service, the target of the sample data actions.

Served under ``/sandbox/stub/`` (no auth, no faults, never under ``/api/v2``):

``GET  /sandbox/stub/accounts/{accountId}``  an account and its latest orders; needs
    ``X-Api-Key`` (the sample credential's ``apiKey``, else 401); ``limit`` (1 to 50,
    default 3) orders; ``includeClosed``; an id starting ``unknown`` is a 404
``POST /sandbox/stub/reports``  ``{"reportName", "delaySeconds"?}`` answers after
    ``delaySeconds`` (default 3, longer than Slow Report's 2 s timeout)
``GET  /sandbox/stub/flaky/{key}``  503 when ``fail=true``, otherwise on a share
    ``failureRate`` (default 0.5) of calls drawn from a generator seeded with the
    sandbox seed, so a seeded sandbox fails the same calls every run

Every request is counted per route (``received``, in ``GET /sandbox/actions/executions``).
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections import Counter
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.wire import JSONResponse, read_json

STUB_API_KEY = "sandbox-stub-key"
DEFAULT_REPORT_DELAY = 3.0
DEFAULT_FAILURE_RATE = 0.5
_TIERS = ("standard", "silver", "gold")


class StubService:
    """The stub's state: what it received, and the seeded draws of the flaky route."""

    def __init__(self, seed: int | None) -> None:
        self._seed = seed
        self.received: Counter[str] = Counter()
        self._rng = random.Random(f"{seed}:stub")

    def fails(self, rate: float) -> bool:
        return self._rng.random() < rate

    def reset(self) -> None:
        self.received.clear()
        self._rng = random.Random(f"{self._seed}:stub")


def _stub(request: Request) -> StubService:
    # app.state.actions is the ActionRuntime (not imported: it imports this module).
    stub: StubService = request.app.state.actions.stub
    return stub


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)


def _number(raw: str | None, default: float, low: float, high: float) -> float | None:
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if low <= value <= high else None


async def account(request: Request) -> Response:
    stub = _stub(request)
    stub.received["accounts"] += 1
    if request.headers.get("x-api-key") != STUB_API_KEY:
        return _error(401, "invalid api key")
    account_id = request.path_params["accountId"]
    if account_id.startswith("unknown"):
        return _error(404, f"no account {account_id}")
    limit = _number(request.query_params.get("limit"), 3, 1, 50)
    if limit is None or limit != int(limit):
        return _error(400, "limit must be a whole number between 1 and 50")
    closed = request.query_params.get("includeClosed", "") == "true"
    digest = hashlib.sha256(account_id.encode()).digest()
    orders = [
        {"orderId": f"{account_id}-{n + 1}", "status": "closed" if n % 2 else "open"}
        for n in range(int(limit))
    ]
    body: dict[str, Any] = {
        "account": {
            "id": account_id,
            "name": f"Account {account_id}",
            "tier": _TIERS[digest[0] % len(_TIERS)],
            "balance": round(int.from_bytes(digest[1:4]) / 100, 2),
        },
        "orders": orders if closed else [o for o in orders if o["status"] == "open"],
    }
    return JSONResponse(body)


async def report(request: Request) -> Response:
    stub = _stub(request)
    stub.received["reports"] += 1
    body = await read_json(request)
    if not isinstance(body, dict) or not isinstance(body.get("reportName"), str):
        return _error(400, "reportName is required")
    delay = body.get("delaySeconds", DEFAULT_REPORT_DELAY)
    if isinstance(delay, bool) or not isinstance(delay, int | float) or not 0 <= delay <= 120:
        return _error(400, "delaySeconds must be a number between 0 and 120")
    await asyncio.sleep(delay)
    return JSONResponse({"reportId": f"rpt-{body['reportName']}", "rows": 42})


async def flaky(request: Request) -> Response:
    stub = _stub(request)
    stub.received["flaky"] += 1
    rate = _number(request.query_params.get("failureRate"), DEFAULT_FAILURE_RATE, 0, 1)
    if rate is None:
        return _error(400, "failureRate must be between 0 and 1")
    forced = request.query_params.get("fail", "") == "true"
    # Always draw, so the seeded sequence does not depend on which calls forced a failure.
    drawn = stub.fails(rate)
    if forced or drawn:
        return _error(503, "temporarily unavailable")
    key = request.path_params["key"]
    return JSONResponse({"key": key, "value": f"value-of-{key}"})


routes = [
    Route("/sandbox/stub/accounts/{accountId}", account, methods=["GET"]),
    Route("/sandbox/stub/reports", report, methods=["POST"]),
    Route("/sandbox/stub/flaky/{key}", flaky, methods=["GET"]),
]
