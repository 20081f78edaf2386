"""History benchmark: transition histories and flow statistics over a large database.

For each database it fills a fresh, migrated database with --conversations runs of one
main flow (about eleven events each: flowtrack's start, the flow's start, node
enter/exit pairs with retries, errors, timeouts and terminations, the completion; a
tenth of the runs also reported by the platform's execution history, so histories have
to pick one source), one launch row per run, and 2,000 runs of four smaller flows.
Then it starts the real app (``python -m receiver serve``, one uvicorn worker) and
measures:

- ``GET /api/v1/conversations/{id}/transitions`` for random conversations: p50/p99 of
  --requests sequential requests (target: p99 under 10 ms), and throughput and latency
  with --concurrency requests in flight (wrk: a Python client would be the bottleneck);
- ``GET /api/v1/launches/{id}/transitions`` likewise, sequentially;
- ``GET /api/v1/flows/{flowId}/stats`` of the main flow, all time (target: under 1 s);
- ``GET /api/v1/flows``.

``--database URL`` measures an existing, already filled database instead of filling one.
Figures, not assertions: these machines are shared and noisy; the load average is
printed with them.

    ./dev bench history [--db sqlite|postgresql|both] [--conversations 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import Engine, func, insert, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ingest import database, free_port, server  # noqa: E402

from receiver.ingest.dedupe import dedupe_key  # noqa: E402
from storage.engine import make_engine  # noqa: E402
from storage.migrations import upgrade  # noqa: E402
from storage.records import EventRecord  # noqa: E402
from storage.tables import Launch  # noqa: E402
from storage.writer import EventWriter  # noqa: E402

launches_table = Launch.__table__  # type: ignore[attr-defined]
API_KEY = "bench-api-key-0123456789"
TOKEN = "bench-callback-token-0123456789"
MAIN_FLOW = "7d2a3b1e-5c0f-4f6e-9a41-2b8e0c9d1f37"
SMALL_FLOWS = [str(uuid.UUID(int=0xF10 + n)) for n in range(4)]
SMALL_FLOW_RUNS = 500
EPOCH = datetime(2026, 2, 1, tzinfo=UTC)
SPAN = timedelta(days=30)

# node id → (type, name, median duration in ms)
NODES = {
    "prepare": ("Task", "Prepare order", 40),
    "lookup": ("CallData", "Look up customer", 350),
    "wait-retry": ("Wait", "Wait before retrying", 2000),
    "log-error": ("UpdateData", "Log the failure", 30),
    "notify": ("SendEmail", "Notify customer", 250),
}


@dataclass
class Visit:
    node: str
    output_path: str | None = "__SUCCESS__"
    error: str | None = None
    exits: bool = True


@dataclass
class Run:
    """One generated run of a flow: its visits and how it ended."""

    flow_id: str
    launch_id: str
    execution_id: str
    conversation_id: str
    started: datetime
    visits: list[Visit] = field(default_factory=list)
    state: str = "completed"
    platform_copy: bool = False


def plan(rng: random.Random, flow_id: str, started: datetime) -> Run:
    """Walk the main flow's graph: prepare → lookup (retries, errors) → notify."""
    run = Run(
        flow_id,
        str(uuid.UUID(int=rng.getrandbits(128))),
        str(uuid.UUID(int=rng.getrandbits(128))),
        str(uuid.UUID(int=rng.getrandbits(128))),
        started,
        platform_copy=rng.random() < 0.1,
    )
    run.visits.append(Visit("prepare"))
    for attempt in range(3):
        draw = rng.random()
        if draw < 0.02:  # hangs in the lookup until the deadline
            run.visits.append(Visit("lookup", None, exits=False))
            run.state = "timed_out"
            return run
        if draw < 0.06:
            run.visits.append(Visit("lookup", None, error="DATA_ACTION_FAILED", exits=False))
            run.visits.append(Visit("log-error"))
            run.state = "failed"
            break
        if draw < 0.30 and attempt < 2:
            run.visits.append(Visit("lookup", "missing"))
            if rng.random() < 0.03:  # the conversation was disconnected while waiting
                run.visits.append(Visit("wait-retry", None, exits=False))
                run.state = "terminated"
                return run
            run.visits.append(Visit("wait-retry"))
            continue
        run.visits.append(Visit("lookup", "found"))
        break
    if rng.random() < 0.01:  # still in progress
        run.visits.append(Visit("notify", None, exits=False))
        run.state = "running"
        return run
    run.visits.append(Visit("notify"))
    return run


def _raw(kind: str, run: Run, at: datetime, node: str | None, extra: dict[str, Any]) -> str:
    return orjson.dumps(
        {
            "event": kind,
            "eventId": f"{run.execution_id}:{kind}:{node}:{at.timestamp()}",
            "launchId": run.launch_id,
            "flowExecutionId": run.execution_id,
            "conversationId": run.conversation_id,
            "flowId": run.flow_id,
            "nodeId": node,
            "occurredAt": at.isoformat(),
            "attributes": {"flowVersion": "3.0", "customerTier": "gold"},
            **extra,
        }
    ).decode()


def events_of(rng: random.Random, run: Run) -> tuple[list[EventRecord], datetime, str | None]:
    """The run's events; the time of its last event and the node it was last at."""
    rows: list[EventRecord] = []

    def add(
        kind: str,
        source: str,
        at: datetime,
        node: str | None = None,
        *,
        conversation: bool = True,
        **extra: Any,
    ) -> None:
        node_type = node_name = None
        if node is not None:
            node_type, node_name, _ = NODES[node]
        key = dedupe_key("bench", source, run.execution_id, kind, node, str(len(rows)))
        rows.append(
            EventRecord(
                key,
                kind,
                source,
                at,
                at + timedelta(milliseconds=rng.randint(5, 80)),
                run.launch_id,
                run.execution_id,
                run.conversation_id if conversation else None,
                run.flow_id,
                "3.0",
                node,
                node_type,
                node_name,
                extra.get("output_path"),
                extra.get("outcome"),
                extra.get("error_code"),
                extra.get("error_message"),
                _raw(kind, run, at, node, extra),
            )
        )

    at = run.started
    add("start", "flowtrack", at, conversation=False)
    at += timedelta(milliseconds=rng.randint(50, 400))
    add("start", "data_action", at)
    last_node = None
    for visit in run.visits:
        at += timedelta(milliseconds=rng.randint(2, 20))
        entered = at
        add("node_enter", "data_action", at, visit.node)
        last_node = visit.node
        median = NODES[visit.node][2]
        at += timedelta(milliseconds=max(1.0, rng.lognormvariate(0, 0.5) * median))
        if visit.error:
            add(
                "error", "data_action", at, visit.node, error_code=visit.error, error_message="boom"
            )
        if visit.exits:
            add("node_exit", "data_action", at, visit.node, output_path=visit.output_path)
        if run.platform_copy:
            # The platform's execution history: the same visit, its own clock.
            skew = timedelta(milliseconds=rng.randint(1, 30))
            add("node_enter", "notification", entered + skew, visit.node)
            if visit.exits:
                add(
                    "node_exit",
                    "notification",
                    at + skew,
                    visit.node,
                    output_path=visit.output_path,
                )
    if run.state in ("completed", "failed"):
        at += timedelta(milliseconds=rng.randint(2, 20))
        add("complete", "data_action", at, outcome=run.state)
    elif run.state in ("timed_out", "terminated"):
        at += timedelta(minutes=15)
        if run.state == "timed_out":
            add("error", "flowtrack", at, error_code="timeout", error_message="deadline passed")
        add("complete", "flowtrack", at, outcome=run.state)
    return rows, at, last_node


def launch_row(run: Run, last_at: datetime, last_node: str | None) -> dict[str, Any]:
    ended = run.state not in ("running", "pending")
    return {
        "id": run.launch_id,
        "flow_id": run.flow_id,
        "flow_version": "3.0",
        "state": run.state,
        "flow_execution_id": run.execution_id,
        "conversation_id": run.conversation_id,
        "current_node_id": last_node,
        "current_node_name": NODES[last_node][1] if last_node else None,
        "timeout_seconds": 900,
        "created_at": run.started,
        "updated_at": last_at,
        "deadline_at": run.started + timedelta(minutes=15),
        "last_event_at": last_at,
        "ended_at": last_at if ended else None,
    }


@dataclass
class Filled:
    conversations: list[str]
    launches: list[str]
    events: int
    seconds: float
    main_launches: int
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)  # while measured (1, 5, 15 min)


def fill(url: str, conversations: int, seed: int = 7) -> Filled:
    """Store the generated runs: events through the writer, launches by multi-row insert."""
    engine = make_engine(url, sqlite_synchronous="normal")
    upgrade(engine)
    logging.getLogger("flowtrack.storage.writer").setLevel(logging.ERROR)  # big batches are slow
    rng = random.Random(seed)
    flows = [MAIN_FLOW] * conversations + SMALL_FLOWS * SMALL_FLOW_RUNS
    step = SPAN / len(flows)
    rng.shuffle(flows)
    started = time.perf_counter()
    sample_conversations: list[str] = []
    sample_launches: list[str] = []
    total = 0

    async def run_all() -> None:
        nonlocal total
        writer = EventWriter(engine, max_batch_events=20_000)
        writer.start()
        batch: list[EventRecord] = []
        launch_rows: list[dict[str, Any]] = []
        pending: list[asyncio.Future[Any]] = []
        for index, flow_id in enumerate(flows):
            run = plan(rng, flow_id, EPOCH + step * index)
            rows, last_at, last_node = events_of(rng, run)
            batch.extend(rows)
            launch_rows.append(launch_row(run, last_at, last_node))
            if flow_id == MAIN_FLOW and rng.random() < 0.05:
                sample_conversations.append(run.conversation_id)
                sample_launches.append(run.launch_id)
            if len(batch) >= 20_000:
                total += len(batch)
                pending.append(asyncio.ensure_future(writer.write(batch)))
                batch = []
                if len(pending) > 2:
                    await pending.pop(0)
            if len(launch_rows) >= 5_000:
                _insert_launches(engine, launch_rows)
                launch_rows = []
        total += len(batch)
        pending.append(asyncio.ensure_future(writer.write(batch)))
        await asyncio.gather(*pending)
        _insert_launches(engine, launch_rows)
        writer.close()

    asyncio.run(run_all())
    _analyze(engine)
    engine.dispose()
    return Filled(
        sample_conversations, sample_launches, total, time.perf_counter() - started, conversations
    )


def _insert_launches(engine: Engine, rows: list[dict[str, Any]]) -> None:
    if rows:
        with engine.begin() as connection:
            connection.execute(insert(launches_table), rows)


def _analyze(engine: Engine) -> None:
    # What a production database has after autovacuum or PRAGMA optimize: planner
    # statistics, and on PostgreSQL a visibility map (index-only scans need it).
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(
            "VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"
        )


# -- measuring --------------------------------------------------------------------------


@dataclass
class Timing:
    name: str
    seconds: list[float]
    errors: int = 0
    fixed: tuple[float, float, float] | None = None  # p50, p99, max in ms (from wrk)
    rate: float | None = None

    def figures(self) -> tuple[int | str, float, float, float]:
        if self.fixed is not None:
            return f"{self.rate:,.0f}/s", *self.fixed
        ordered = sorted(self.seconds)

        def at(fraction: float) -> float:
            return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000

        return len(ordered), at(0.5), at(0.99), ordered[-1] * 1000


def sequential(base: str, paths: list[str], name: str) -> Timing:
    timing = Timing(name, [])
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {API_KEY}"}) as http:
        for path in paths[:20]:  # warm the connection and the caches a little
            http.get(path)
        for path in paths:
            started = time.perf_counter()
            response = http.get(path)
            timing.seconds.append(time.perf_counter() - started)
            if response.status_code != 200 or not response.json()["items"]:
                timing.errors += 1
    return timing


def concurrent(base: str, paths: list[str], connections: int, seconds: int, name: str) -> Timing:
    """wrk with ``connections`` requests in flight (a Python client would be the bottleneck)."""
    with tempfile.TemporaryDirectory() as scratch:
        listing = Path(scratch) / "paths.txt"
        listing.write_text("\n".join(paths) + "\n")
        out = Path(scratch) / "out.json"
        env = {**os.environ, "BENCH_PATHS": str(listing), "BENCH_OUT": str(out)}
        command = [
            "wrk",
            f"-t{min(connections, 2)}",
            f"-c{connections}",
            f"-d{seconds}s",
            "-s",
            str(ROOT / "bench" / "transitions.lua"),
            base,
            "--",
            API_KEY,
        ]
        subprocess.run(command, env=env, check=True, capture_output=True)
        result = json.loads(out.read_text())
    # wrk reports percentiles, not samples: keep them as a three-point distribution.
    timing = Timing(name, [], errors=result["errors"])
    timing.fixed = (result["p50_us"] / 1000, result["p99_us"] / 1000, result["max_us"] / 1000)
    timing.rate = result["requests"] / (result["duration_us"] / 1e6)
    return timing


def repeated(base: str, path: str, times: int, name: str) -> Timing:
    timing = Timing(name, [])
    with httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=60
    ) as http:
        for _ in range(times):
            started = time.perf_counter()
            response = http.get(path)
            timing.seconds.append(time.perf_counter() - started)
            if response.status_code != 200:
                timing.errors += 1
    return timing


def bench_database(
    kind: str, args: argparse.Namespace, workdir: Path
) -> tuple[Filled, list[Timing]]:
    if args.database:  # measure a database an earlier run filled
        return measure(args.database, existing(args.database), args)
    with database(kind, workdir) as url:
        filled = fill(url, args.conversations)
        print(
            f"  {kind}: filled {filled.events:,} events in {filled.seconds:.0f} s", file=sys.stderr
        )
        return measure(url, filled, args)


def existing(url: str) -> Filled:
    """What an already filled database holds: a sample of its main flow's runs."""
    engine = make_engine(url)
    with engine.connect() as connection:
        total = connection.exec_driver_sql("SELECT count(*) FROM events").scalar_one()
        main = connection.execute(
            select(func.count()).where(launches_table.c.flow_id == MAIN_FLOW)
        ).scalar_one()
        rows = connection.execute(
            select(launches_table.c.id, launches_table.c.conversation_id)
            .where(launches_table.c.flow_id == MAIN_FLOW)
            .order_by(launches_table.c.id)
            .limit(5000)
        ).all()
    engine.dispose()
    return Filled([row[1] for row in rows], [row[0] for row in rows], total, 0.0, main)


def measure(url: str, filled: Filled, args: argparse.Namespace) -> tuple[Filled, list[Timing]]:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FLOWTRACK_")},
        "FLOWTRACK_DATABASE_URL": url,
        "FLOWTRACK_CALLBACK_TOKENS": TOKEN,
        "FLOWTRACK_API_KEYS": API_KEY,
        "FLOWTRACK_LOG_LEVEL": "WARNING",
        "FLOWTRACK_SWEEP_ENABLED": "0",
    }
    command = [
        sys.executable,
        "-m",
        "receiver",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    base = f"http://127.0.0.1:{port}"
    rng = random.Random(11)
    conversations = [
        f"/api/v1/conversations/{rng.choice(filled.conversations)}/transitions"
        for _ in range(args.requests)
    ]
    launches = [
        f"/api/v1/launches/{rng.choice(filled.launches)}/transitions" for _ in range(args.requests)
    ]
    with server(command, env, port):
        httpx.get(f"{base}/readyz").raise_for_status()
        timings = [
            sequential(base, conversations, "conversation transitions, sequential"),
            concurrent(
                base,
                conversations,
                args.concurrency,
                args.seconds,
                f"conversation transitions, {args.concurrency} in flight (wrk)",
            ),
            sequential(base, launches, "launch transitions, sequential"),
            repeated(
                base,
                f"/api/v1/flows/{MAIN_FLOW}/stats",
                args.stats_runs,
                f"flow stats, main flow ({filled.main_launches:,} launches)",
            ),
            repeated(base, "/api/v1/flows", args.stats_runs, "flows list"),
        ]
    filled.load = os.getloadavg()
    return filled, timings


def report(kind: str, filled: Filled, timings: list[Timing]) -> None:
    load = ", ".join(f"{value:.1f}" for value in filled.load)
    print(f"\n{kind}: {filled.events:,} events, filled in {filled.seconds:.0f} s; load {load}")
    print(f"  {'request':44} {'n':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'errors':>6}")
    for timing in timings:
        count, p50, p99, most = timing.figures()
        print(f"  {timing.name:44} {count:>8} {p50:8.1f} {p99:8.1f} {most:8.1f} {timing.errors:6}")
    print("  targets: transitions p99 < 10 ms (sequential); flow stats < 1000 ms")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=10, help="of the concurrent run")
    parser.add_argument("--stats-runs", type=int, default=5)
    parser.add_argument(
        "--database", help="measure this already filled database URL instead (no fill)"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is needed: apt-get install wrk", file=sys.stderr)
        return 2
    print(f"machine: {os.cpu_count()} cores", file=sys.stderr)
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    if args.database:
        kinds = [args.database.split(":", 1)[0]]
    results = {}
    with tempfile.TemporaryDirectory(dir=ROOT) as workdir:
        for kind in kinds:
            results[kind] = bench_database(kind, args, Path(workdir))
    for kind, (filled, timings) in results.items():
        report(kind, filled, timings)
    return 1 if any(t.errors for _, timings in results.values() for t in timings) else 0


if __name__ == "__main__":
    sys.exit(main())
