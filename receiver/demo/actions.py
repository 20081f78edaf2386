"""The demo's data action runs (#13): three of the sandbox's sample actions executed
through flowtrack — one succeeds, one is refused by validation, one times out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from sandbox.action_samples import LOOKUP_ACCOUNT, SLOW_REPORT

_WAIT = {"Prefer": "wait=15"}
_PAD = " " * 19


async def show(api: httpx.AsyncClient, say: Callable[[str], None]) -> None:
    """Run the three and print what each run became."""
    say("")
    say("Data action runs (POST /api/v1/actions/{id}/runs, docs/actions.md):")
    ok = await _run(
        api, LOOKUP_ACCOUNT, {"input": {"accountId": "ACME-42", "limit": "2"}, "coerce": True}
    )
    say(f"  Lookup Account   {_line(ok)}")
    for coercion in ok.get("coercions") or []:
        say(f"{_PAD}coerced {coercion['field']}: {coercion['from']} -> {coercion['to']}")
    if ok.get("output"):
        output = ok["output"]
        say(
            f"{_PAD}output: {output.get('name')}, tier {output.get('tier')}, "
            f"{len(output.get('orders') or [])} orders"
        )
    refused = await api.post(
        f"/api/v1/actions/{LOOKUP_ACCOUNT}/runs",
        json={"input": {"accountId": "ACME 42!", "limit": 500}},
        headers=_WAIT,
    )
    problems = refused.json().get("detail") or []
    say(
        f"  Lookup Account   refused {refused.status_code} {refused.json().get('error')}: "
        "nothing sent to Genesys"
    )
    for problem in problems:
        say(f"{_PAD}{problem['field']}: {problem['problem']}")
    slow = await _run(api, SLOW_REPORT, {"input": {"reportName": "quarterly"}})
    say(f"  Slow Report      {_line(slow)}")


async def _run(api: httpx.AsyncClient, action_id: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await api.post(f"/api/v1/actions/{action_id}/runs", json=body, headers=_WAIT)
    run: dict[str, Any] = response.json()
    return run


def _line(run: dict[str, Any]) -> str:
    if "state" not in run:
        return f"refused: {run.get('message')}"
    reason = f" ({run['failureReason']})" if run.get("failureReason") else ""
    latency = f" in {run['latencyMs']:.0f} ms" if run.get("latencyMs") is not None else ""
    tries = len(run.get("attempts") or [])
    return f"run {run['id'][:8]}… {run['state']}{reason}{latency}, {tries} attempt(s)"
