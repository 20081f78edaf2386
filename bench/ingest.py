"""Ingest benchmark: flowtrack's callback endpoint against a no-op Starlette endpoint.

Both run as one uvicorn worker on this machine and get the same wrk load (64 connections,
~600-byte canonical events). For each database it measures: the no-op baseline, ingest
into an empty database, ingest with --prefill events already stored, and a batch run
(100 events per request). Afterwards it checks that every acknowledged event is in the
database exactly once. Figures, not assertions: these machines are shared and noisy.

    ./dev bench ingest [--db sqlite|postgresql|both] [--seconds 15] [--prefill 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

# history, console and sweep take these from here.
from harness import API_KEY, TOKEN, database, free_port, serve_env, server  # noqa: E402
from harness import wrk as run_wrk  # noqa: E402

from receiver.ingest.dedupe import dedupe_key  # noqa: E402
from receiver.launches.ids import uuid7  # noqa: E402
from storage.engine import make_engine  # noqa: E402
from storage.migrations import upgrade  # noqa: E402
from storage.records import EventRecord  # noqa: E402
from storage.writer import EventWriter  # noqa: E402

__all__ = ["API_KEY", "TOKEN", "database", "free_port", "server", "wrk"]

PATH = "/webhooks/genesys"


@dataclass
class Run:
    name: str
    requests_per_second: float
    events_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    acknowledged: int | None = None
    stored: int | None = None
    missing: int | None = None


def wrk(port: int, seconds: int, connections: int, prefix: str, batch: int) -> dict:
    return run_wrk("events.lua", port, seconds, connections, prefix, str(batch), TOKEN, PATH)


def summarise(name: str, result: dict, batch: int) -> Run:
    seconds = result["duration_us"] / 1e6
    rps = result["requests"] / seconds
    return Run(
        name, rps, rps * batch, result["p50_us"] / 1000, result["p99_us"] / 1000, result["errors"]
    )


def prefill(url: str, count: int) -> float:
    """Store ``count`` realistic events through the writer; returns seconds taken."""
    # Batches of 10,000 rows are slow commits by design here: no warning per batch.
    logging.getLogger("flowtrack.storage.writer").setLevel(logging.ERROR)
    engine = make_engine(url, sqlite_synchronous="normal")
    writer = EventWriter(engine, max_batch_events=10_000)
    writer.start()
    rng = random.Random(7)
    start = datetime.now(UTC) - timedelta(days=30)
    started = time.perf_counter()

    async def fill() -> None:
        batch: list[EventRecord] = []
        conversation = execution = launch = ""
        for n in range(count):
            at = start + timedelta(milliseconds=n * 2)
            if n % 8 == 0:
                conversation, execution = (
                    str(uuid.UUID(int=rng.getrandbits(128))),
                    str(uuid.uuid4()),
                )
                # flowtrack's launch ids are UUIDv7, made when the launch was
                launch = uuid7(int(at.timestamp() * 1000), rng.getrandbits(80))
            batch.append(
                EventRecord(
                    dedupe_key("prefill", str(n)),
                    "node_enter",
                    "data_action",
                    at,
                    at,
                    launch,
                    execution,
                    conversation,
                    "7d2a3b1e-5c0f-4f6e-9a41-2b8e0c9d1f37",
                    "12.0",
                    f"act-{n % 40}",
                    "Action",
                    "Call Data Action: look up customer record",
                    "__SUCCESS__",
                    None,
                    None,
                    None,
                    '{"event":"node_enter","prefill":true}',
                )
            )
            if len(batch) == 10_000:
                await writer.write(batch)
                batch = []
        if batch:
            await writer.write(batch)

    asyncio.run(fill())
    writer.close()
    engine.dispose()
    return time.perf_counter() - started


def verify(url: str, prefix: str, result: dict, batch: int, baseline: int) -> tuple[int, int, int]:
    """Acknowledged events missing from the database (must be 0), and counts."""
    sent: set[bytes] = set()
    acknowledged: set[bytes] = set()
    for thread in result["threads"]:
        failed = {int(item.split(":")[0]) for item in thread["failed"].split(",") if item}
        for request in range(thread["sent"]):
            keys = [
                dedupe_key(
                    "cb", "id", f"{prefix}-{thread['tid']}-{request * batch + i}", "node_enter"
                )
                for i in range(batch)
            ]
            sent.update(keys)
            if request < thread["responded"] and request not in failed:
                acknowledged.update(keys)
    engine = make_engine(url)
    with engine.connect() as connection:
        stored = {
            bytes(key)
            for key in connection.execute(text("SELECT dedupe_key FROM events")).scalars()
        }
        total = connection.execute(text("SELECT count(*) FROM events")).scalar_one()
    engine.dispose()
    ours = stored & sent
    assert total == len(stored), "duplicate rows"  # the unique index makes this impossible
    assert total - baseline == len(ours), "rows that no request sent"
    return len(acknowledged), len(ours), len(acknowledged - stored)


def bench_database(kind: str, args: argparse.Namespace, workdir: Path) -> list[Run]:
    runs: list[Run] = []
    python = sys.executable
    base_env = serve_env()

    port = free_port()
    noop = [
        python,
        "-m",
        "uvicorn",
        "noop:app",
        "--app-dir",
        "bench",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    with server(noop, base_env, port):
        result = wrk(port, args.seconds, args.connections, "noop", 1)
    runs.append(summarise("no-op endpoint", result, 1))

    def ingest(name: str, url: str, batch: int, baseline: int) -> None:
        port = free_port()
        env = {
            **base_env,
            "FLOWTRACK_DATABASE_URL": url,
            "FLOWTRACK_CALLBACK_TOKENS": TOKEN,
            "FLOWTRACK_API_KEYS": API_KEY,
            "FLOWTRACK_LOG_LEVEL": "WARNING",
            "FLOWTRACK_SQLITE_SYNCHRONOUS": args.sqlite_synchronous,
            "FLOWTRACK_SQLITE_CHECKPOINTS": args.sqlite_checkpoints,
        }
        command = [python, "-m", "receiver", "serve", "--host", "127.0.0.1", "--port", str(port)]
        prefix = uuid.uuid4().hex[:8]
        with server(command, env, port):
            httpx.get(f"http://127.0.0.1:{port}/readyz").raise_for_status()
            result = wrk(port, args.seconds, args.connections, prefix, batch)
        run = summarise(name, result, batch)
        run.acknowledged, run.stored, run.missing = verify(url, prefix, result, batch, baseline)
        runs.append(run)
        print(f"  {kind}: {name} done", file=sys.stderr)

    with database(kind, workdir) as url:
        upgrade(make_engine(url))
        ingest("ingest, empty database", url, 1, 0)
    with database(kind, workdir) as url:
        upgrade(make_engine(url))
        ingest("ingest, batches of 100", url, 100, 0)
    if args.prefill:
        with database(kind, workdir) as url:
            upgrade(make_engine(url))
            took = prefill(url, args.prefill)
            print(f"  {kind}: prefilled {args.prefill:,} events in {took:.0f} s", file=sys.stderr)
            ingest(f"ingest, {args.prefill:,} stored", url, 1, args.prefill)
    return runs


def report(kind: str, runs: list[Run]) -> None:
    baseline = runs[0].requests_per_second
    print(f"\n{kind}")
    print(
        f"  {'run':28} {'req/s':>9} {'events/s':>10} {'x no-op':>8} {'p50 ms':>7} "
        f"{'p99 ms':>7} {'errors':>6} {'acked':>9} {'stored':>9} {'missing':>7}"
    )
    for run in runs:
        ratio = run.requests_per_second / baseline
        counts = (
            ("", "", "")
            if run.acknowledged is None
            else (f"{run.acknowledged:,}", f"{run.stored:,}", f"{run.missing}")
        )
        print(
            f"  {run.name:28} {run.requests_per_second:9,.0f} {run.events_per_second:10,.0f} "
            f"{ratio:8.2f} {run.p50_ms:7.2f} {run.p99_ms:7.2f} {run.errors:6} "
            f"{counts[0]:>9} {counts[1]:>9} {counts[2]:>7}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--prefill", type=int, default=1_000_000)
    parser.add_argument("--sqlite-synchronous", choices=["full", "normal"], default="full")
    parser.add_argument("--sqlite-checkpoints", choices=["commit", "background"], default="commit")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is needed: apt-get install wrk", file=sys.stderr)
        return 2
    print(
        f"machine: {os.cpu_count()} cores; {args.connections} connections, {args.seconds} s "
        f"per run; SQLite synchronous={args.sqlite_synchronous}",
        file=sys.stderr,
    )
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    with tempfile.TemporaryDirectory(dir=ROOT) as workdir:
        results = {kind: bench_database(kind, args, Path(workdir)) for kind in kinds}
    for kind, runs in results.items():
        report(kind, runs)
    missing = sum(run.missing or 0 for runs in results.values() for run in runs)
    print(f"\nacknowledged events missing from the database: {missing}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
