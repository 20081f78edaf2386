"""Data action runs benchmark: flowtrack's run path against calling the sandbox's execute
directly, same action (the sandbox's *Lookup Account*), same load.

The sandbox runs in its own process (``flowtrack sandbox``, its Platform API limit raised
so pacing is not what is measured); flowtrack and the load run in this one. Per load
(``--concurrency`` 1 and 50 by default) it measures, side by side:

- **direct**: ``POST /api/v2/integrations/actions/{id}/execute`` with a bearer token;
- **flowtrack**: ``POST /api/v1/actions/{id}/runs`` with ``Prefer: wait=30`` (validation
  against the cached contract, the run recorded, executed, finished, answered 201).

Overhead per run is flowtrack's end-to-end time minus the time its own call to Genesys
took (the run's ``latencyMs``), so it is what flowtrack adds whatever the sandbox does.

    ./dev bench actions [--db sqlite|postgresql|both] [--runs 2000] [--concurrency 1,50]

Figures, not assertions: this machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from harness import API_KEY, database, sandbox, sandbox_settings  # noqa: E402
from harness import percentile as pct  # noqa: E402

from receiver.app import create_app  # noqa: E402
from receiver.serving.server import running_server  # noqa: E402
from receiver.settings import Settings  # noqa: E402
from storage.engine import make_engine  # noqa: E402
from storage.migrations import upgrade  # noqa: E402

LOOKUP_ACCOUNT = "custom_-_5a9b7c3d-0000-4000-8000-0000000a0001"


async def load(
    count: int, concurrency: int, call: Callable[[int], Awaitable[float | None]]
) -> tuple[list[float], list[float], float]:
    """``count`` calls, ``concurrency`` at a time: end-to-end ms, overhead ms, seconds."""
    ends: list[float] = []
    overheads: list[float] = []
    queue = iter(range(count))

    async def worker() -> None:
        for n in queue:
            started = time.perf_counter()
            inner = await call(n)
            took = (time.perf_counter() - started) * 1000
            ends.append(took)
            if inner is not None:
                overheads.append(took - inner)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ends, overheads, time.perf_counter() - began


async def bench(
    kind: str, url: str, sandbox_url: str, runs: int, loads: list[int], extra: dict[str, str]
) -> None:
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    settings = Settings.from_env(
        {
            **sandbox_settings(url, sandbox_url),
            "FLOWTRACK_GENESYS_RATE_LIMIT_PER_MINUTE": "10000000",
            "FLOWTRACK_ACTIONS_PER_MINUTE": "10000000",
            "FLOWTRACK_LOG_LEVEL": "WARNING",
            **extra,
        }
    )
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with (
        running_server(create_app(settings)) as server,
        httpx.AsyncClient(base_url=sandbox_url, limits=limits, timeout=60) as genesys,
        httpx.AsyncClient(
            base_url=server.base_url,
            headers={"Authorization": f"Bearer {API_KEY}"},
            limits=limits,
            timeout=60,
        ) as api,
    ):
        token = (
            await genesys.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=("sandbox", "sandbox"),
            )
        ).json()["access_token"]
        bearer = {"Authorization": f"Bearer {token}"}
        execute = f"/api/v2/integrations/actions/{LOOKUP_ACCOUNT}/execute"

        async def direct(n: int) -> float | None:
            response = await genesys.post(execute, json={"accountId": f"A-{n}"}, headers=bearer)
            assert response.status_code == 200, response.text
            return None

        async def through(n: int) -> float | None:
            response = await api.post(
                f"/api/v1/actions/{LOOKUP_ACCOUNT}/runs",
                json={"input": {"accountId": f"A-{n}"}},
                headers={"Prefer": "wait=30"},
            )
            body = response.json()
            assert response.status_code == 201, response.text
            assert body["state"] == "succeeded", response.text
            latency: float = body["latencyMs"]
            return latency

        await load(20, 5, direct)  # warm both paths (token, contract, connections)
        await load(20, 5, through)
        for concurrency in loads:
            d_ms, _, d_s = await load(runs, concurrency, direct)
            f_ms, over, f_s = await load(runs, concurrency, through)
            print(f"\n{kind}, {runs} runs at concurrency {concurrency}")
            print(f"  {'':<10} {'p50 ms':>8} {'p99 ms':>8} {'runs/s':>8}")
            print(
                f"  {'direct':<10} {pct(d_ms, 0.5):8.2f} {pct(d_ms, 0.99):8.2f} {runs / d_s:8.0f}"
            )
            print(
                f"  {'flowtrack':<10} {pct(f_ms, 0.5):8.2f} {pct(f_ms, 0.99):8.2f} {runs / f_s:8.0f}"
            )
            print(
                f"  overhead (end-to-end minus the run's own Genesys call): "
                f"p50 {pct(over, 0.5):.2f} ms, p99 {pct(over, 0.99):.2f} ms, "
                f"mean {statistics.fmean(over):.2f} ms; "
                f"p50 end-to-end ratio {pct(f_ms, 0.5) / pct(d_ms, 0.5):.2f}x, "
                f"throughput ratio {(runs / f_s) / (runs / d_s):.2f}x"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--concurrency", default="1,50", help="comma-separated loads")
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="a FLOWTRACK_ setting"
    )
    args = parser.parse_args()
    extra = dict(item.split("=", 1) for item in args.set)
    kinds = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    loads = [int(part) for part in args.concurrency.split(",")]
    with (
        tempfile.TemporaryDirectory() as tmp,
        sandbox("--rate-limit", "10000000", "--seed", "1") as sandbox_url,
    ):
        for kind in kinds:
            with database(kind, Path(tmp), "actions") as url:
                asyncio.run(bench(kind, url, sandbox_url, args.runs, loads, extra))


if __name__ == "__main__":
    main()
