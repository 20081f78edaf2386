"""Webhook benchmark: delivery throughput, and what the outbox costs ingest.

1. **Deliveries per second.** ``--messages`` messages are written to the outbox of a
   fresh database for one endpoint, a local receiver (its own process, answering 200)
   behind it; ``flowtrack serve`` starts with 50 deliveries in flight (per process and per
   endpoint) and the time from its first attempt to its last gives the rate.
2. **Ingest when 10 % of events end a launch**: wrk posts canonical events of launches
   stored beforehand, every tenth one the ``complete`` that ends its launch, with an
   endpoint subscribed to ``launch.completed``. The same load runs against this tree
   with its outbox calls switched off (patched out in the server process: the code as
   it was before webhooks, everything else equal), with the outbox but delivery off,
   and delivering, interleaved for ``--rounds`` rounds. ``--before DIR`` adds a run of
   another checkout (e.g. ``git worktree add /tmp/before-webhooks fe416d9~1``, with
   ``.venv`` linked to this one's).

Figures, not assertions: these machines are shared and noisy.

    ./dev bench webhooks [--db sqlite|postgresql|both] [--messages 3000]
                         [--before /tmp/before-webhooks] [--seconds 8] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from typing import Any

import httpx
import orjson
from sqlalchemy import Engine, func, insert, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import harness  # noqa: E402
from harness import API_KEY, TOKEN, database, free_port, serve_env, server  # noqa: E402

from storage import outbox  # noqa: E402
from storage.deliveries import attempts  # noqa: E402
from storage.engine import make_engine, write_transaction  # noqa: E402
from storage.launches import launches  # noqa: E402
from storage.migrations import upgrade  # noqa: E402
from storage.webhooks import count_messages, create_endpoint  # noqa: E402

CONNECTIONS = 16
LAUNCHES_PER_CONNECTION = 1500
FLOW = "7d2a3b1e-5c0f-4f6e-9a41-2b8e0c9d1f37"


@contextmanager
def receiver() -> Iterator[str]:
    """A receiver answering 200 to every POST, in its own process; its URL."""
    port = free_port()
    command = [sys.executable, str(Path(__file__)), "--serve-receiver", str(port)]
    with server(command, dict(os.environ), port):
        yield f"http://127.0.0.1:{port}/hook"


def serve_receiver(port: int) -> None:
    import uvicorn

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        more = True
        while more:
            more = (await receive()).get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")


#: Runs ``flowtrack`` with every outbox call of storage a no-op.
WITHOUT_OUTBOX = (
    "import sys; from storage import outbox; "
    "outbox.launches_ended = outbox.launch_ended = outbox.action_run_ended = "
    "lambda *a, **k: None; "
    "outbox.WriterOutbox.wanted = staticmethod(lambda *a: False); "
    "from receiver.cli import main; sys.exit(main(sys.argv[1:]))"
)


@contextmanager
def flowtrack(url: str, tree: Path, *, outbox_off: bool = False, **settings: str) -> Iterator[int]:
    """``flowtrack serve`` from ``tree`` on ``url``; its port."""
    port = free_port()
    env = serve_env(
        PYTHONPATH=str(tree),
        FLOWTRACK_DATABASE_URL=url,
        FLOWTRACK_CALLBACK_TOKENS=TOKEN,
        FLOWTRACK_API_KEYS=API_KEY,
        FLOWTRACK_LOG_LEVEL="ERROR",
        FLOWTRACK_SWEEP_ENABLED="0",
        **settings,
    )
    program = ["-c", WITHOUT_OUTBOX] if outbox_off else ["-m", "receiver"]
    command = [sys.executable, *program, "serve", "--host", "127.0.0.1"]
    with server([*command, "--port", str(port)], env, port, cwd=tree):
        yield port


WEBHOOK_SETTINGS = {
    "FLOWTRACK_WEBHOOKS_ALLOW_HTTP": "1",
    "FLOWTRACK_WEBHOOKS_ALLOW_PRIVATE": "1",
    "FLOWTRACK_WEBHOOKS_CONCURRENCY": "50",
    "FLOWTRACK_WEBHOOKS_ENDPOINT_CONCURRENCY": "50",
    "FLOWTRACK_WEBHOOKS_POLL_SECONDS": "0.05",
}


def endpoint(engine: Engine, url: str, *types: str) -> None:
    now = datetime.now(UTC)
    create_endpoint(
        engine,
        {
            "id": "ep_bench",
            "url": url,
            "event_types": orjson.dumps(list(types)).decode(),
            "flow_ids": None,
            "enabled": True,
            "secret": "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3",
            "created_at": now,
            "updated_at": now,
        },
    )


# -- 1. deliveries per second ---------------------------------------------------------------


def bare_client(hook: str, count: int) -> float:
    """The same receiver, the same 50 in flight, from a bare httpx client: the ceiling."""

    async def run() -> float:
        limits = httpx.Limits(max_connections=50, max_keepalive_connections=50)
        async with httpx.AsyncClient(limits=limits) as client:
            room = asyncio.Semaphore(50)

            async def one() -> None:
                async with room:
                    (await client.post(hook, content=b"{}")).raise_for_status()

            started = time.perf_counter()
            await asyncio.gather(*(one() for _ in range(count)))
            return count / (time.perf_counter() - started)

    return asyncio.run(run())


def deliveries(kind: str, count: int, workdir: Path) -> tuple[float, float]:
    """Messages delivered per second by flowtrack, and by a bare client to the same receiver."""
    with database(kind, workdir) as url, receiver() as hook:
        ceiling = bare_client(hook, count)
        engine = make_engine(url)
        try:
            upgrade(engine)
            endpoint(engine, hook, "flow.error")
            now = datetime.now(UTC)
            fields = dict.fromkeys(outbox.ERROR_FACTS[2:])
            facts = orjson.dumps({"source": "data_action", "occurred_at": now, **fields})
            with write_transaction(engine) as connection:
                for _ in range(count):
                    outbox.enqueue(
                        connection, "flow.error", facts, flow_id=None, subject=None, now=now
                    )
            with flowtrack(url, ROOT, **WEBHOOK_SETTINGS):
                deadline = time.monotonic() + 180
                while count_messages(engine, state=outbox.DELIVERED) < count:
                    if time.monotonic() > deadline:
                        raise RuntimeError("messages still undelivered after 180 s")
                    time.sleep(0.2)
            with engine.connect() as connection:
                first, last, made = connection.execute(
                    select(
                        func.min(attempts.c.attempted_at),
                        func.max(attempts.c.attempted_at),
                        func.count(),
                    )
                ).one()
        finally:
            engine.dispose()
    if made != count:
        print(f"  {kind}: {made} attempts for {count} messages (retries?)")
    return count / max((last - first).total_seconds(), 1e-6), ceiling


# -- 2. ingest when 10 % of events end a launch --------------------------------------------


def prefill_launches(engine: Engine, prefix: str) -> None:
    now = datetime.now(UTC)
    rows = [
        {
            "id": f"bl-{prefix}-{thread}-{k}",
            "flow_id": FLOW,
            "state": "running",
            "flow_execution_id": f"xbl-{prefix}-{thread}-{k}",
            "created_at": now,
            "updated_at": now,
            "termination_attempts": 0,
        }
        for thread in range(CONNECTIONS)
        for k in range(LAUNCHES_PER_CONNECTION)
    ]
    with write_transaction(engine) as connection:
        connection.execute(insert(launches), rows)


def wrk(port: int, seconds: int, prefix: str) -> dict[str, float]:
    args = (prefix, TOKEN, "/webhooks/genesys")
    result = harness.wrk("webhooks.lua", port, seconds, CONNECTIONS, *args)
    rate = result["requests"] / (result["duration_us"] / 1e6)
    return {"rate": rate, "p50": result["p50_us"] / 1000, "p99": result["p99_us"] / 1000}


def ingest_run(
    kind: str, tree: Path, settings: dict[str, Any], seconds: int, workdir: Path
) -> dict[str, float]:
    prefix = uuid.uuid4().hex[:6]
    with database(kind, workdir) as url, receiver() as hook:
        engine = make_engine(url)
        try:
            upgrade(engine)
            prefill_launches(engine, prefix)
            endpoint(engine, hook, "launch.completed")
            with flowtrack(url, tree, **settings) as port:
                figures = wrk(port, seconds, prefix)
                time.sleep(1)  # the tracker's last refresh
            figures["messages"] = count_messages(engine)
            with engine.connect() as connection:
                figures["ended"] = connection.execute(
                    select(func.count())
                    .select_from(launches)
                    .where(launches.c.state == "completed")
                ).scalar_one()
        finally:
            engine.dispose()
    return figures


def ingest_cost(kind: str, before: Path | None, seconds: int, rounds: int, workdir: Path) -> None:
    quiet = {**WEBHOOK_SETTINGS, "FLOWTRACK_WEBHOOKS_DELIVERY": "0"}
    configs: dict[str, tuple[Path, dict[str, Any]]] = {
        "without the outbox": (ROOT, {**quiet, "outbox_off": True}),
        "outbox, delivery off": (ROOT, quiet),
        "outbox, delivering": (ROOT, WEBHOOK_SETTINGS),
    }
    if before is not None:
        configs[f"checkout {before.name}"] = (before, {})
    results: dict[str, list[dict[str, float]]] = {name: [] for name in configs}
    for _ in range(rounds):
        for name, (tree, settings) in configs.items():
            results[name].append(ingest_run(kind, tree, settings, seconds, workdir))
    base = median(each["rate"] for each in results["without the outbox"])  # the reference
    print(
        f"\n{kind}: ingest, 10 % of events end a launch ({CONNECTIONS} connections, {seconds} s x {rounds})"
    )
    print(
        f"  {'':22} {'events/s':>9} {'ratio':>9} {'p50 ms':>7} {'p99 ms':>7} {'ended':>6} {'messages':>8}"
    )
    for name, runs in results.items():
        rate = median(each["rate"] for each in runs)
        p50 = median(each["p50"] for each in runs)
        p99 = median(each["p99"] for each in runs)
        ended = int(median(each["ended"] for each in runs))
        sent = int(median(each["messages"] for each in runs))
        print(
            f"  {name:22} {rate:9.0f} {rate / base:9.2f} {p50:7.1f} {p99:7.1f} {ended:6} {sent:8}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--before", type=Path, help="another checkout to run the load against")
    parser.add_argument("--skip-deliveries", action="store_true")
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--serve-receiver", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_receiver:
        serve_receiver(args.serve_receiver)
        return 0
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        for kind in kinds:
            if not args.skip_deliveries:
                rate, ceiling = deliveries(kind, args.messages, workdir)
                print(
                    f"{kind}: {args.messages} messages delivered at {rate:.0f}/s with 50 in "
                    f"flight; a bare httpx client, same receiver: {ceiling:.0f}/s "
                    f"({rate / ceiling:.2f})"
                )
            if not args.skip_ingest:
                ingest_cost(kind, args.before, args.seconds, args.rounds, workdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
