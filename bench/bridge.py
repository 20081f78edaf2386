"""Notification bridge benchmark: the sandbox floods flow-instance messages, flowtrack
stores them through its own notification channel.

The sandbox runs in its own process (``flowtrack sandbox``, one core of its own);
flowtrack runs in this one with ``FLOWTRACK_NOTIFICATIONS=1`` and subscribes to the
flooded flow's ``v2.flows.instances.flow`` topic. ``POST /sandbox/notifications/flood``
publishes ``--count`` messages as fast as the sandbox can (each a run of a flow with
``--nodes`` nodes: start, an enter and an exit per node, complete). Each message carries
the moment it was published; the writer's commit hook sees each run's ``complete``
commit, so the lag publish → commit is measured per message. Afterwards the database
must hold exactly one ``complete`` per message.

    ./dev bench bridge [--db sqlite|postgresql|both] [--count 20000] [--nodes 3] [--rate N]

``--rate`` paces the sandbox below what flowtrack stores, to measure the lag of a steady
flow rather than of draining a burst.

Figures, not assertions: this machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import harness  # noqa: E402
from harness import API_KEY, database, sandbox_settings  # noqa: E402

from receiver.app import create_app  # noqa: E402
from receiver.serving.server import running_server  # noqa: E402
from receiver.settings import Settings  # noqa: E402
from storage.engine import make_engine  # noqa: E402
from storage.migrations import upgrade  # noqa: E402
from storage.tables import Event  # noqa: E402

FLOW_ID = "b0000000-0000-4000-8000-000000000001"


@contextmanager
def sandbox(nodes: int, workdir: Path) -> Iterator[str]:
    """``flowtrack sandbox`` in a child process with one linear flow of ``nodes`` nodes."""
    flows = [
        {
            "id": FLOW_ID,
            "name": "Bench flow",
            "type": "workflow",
            "data_action_steps": False,
            "nodes": [
                {
                    "id": f"n{i}",
                    "type": "Task",
                    "duration_ms": 1,
                    **({"next": f"n{i + 1}"} if i < nodes - 1 else {}),
                }
                for i in range(nodes)
            ],
        }
    ]
    flow_file = workdir / "bench-flows.json"
    flow_file.write_text(json.dumps({"flows": flows}))
    with harness.sandbox("--flows", str(flow_file)) as base:
        yield base


async def run(
    kind: str, url: str, sandbox_url: str, count: int, rate: int | None = None
) -> dict[str, Any]:
    engine = make_engine(url)
    upgrade(engine)
    settings = Settings.from_env(
        {
            **sandbox_settings(url, sandbox_url),
            "FLOWTRACK_NOTIFICATIONS": "1",
            "FLOWTRACK_NOTIFICATION_FLOWS": FLOW_ID,
            "FLOWTRACK_NOTIFICATION_REFRESH_SECONDS": "1",
            "FLOWTRACK_SWEEP_ENABLED": "0",
            "FLOWTRACK_ROLLUPS": "false",
            "FLOWTRACK_UI": "0",
            "FLOWTRACK_LOG_LEVEL": "WARNING",
        }
    )
    app = create_app(settings)
    lags: list[float] = []
    waits: list[float] = []
    committed_at: list[float] = []
    all_stored = asyncio.Event()
    async with (
        running_server(app) as server,
        httpx.AsyncClient(
            base_url=server.base_url, headers={"Authorization": f"Bearer {API_KEY}"}
        ) as api,
        httpx.AsyncClient(base_url=sandbox_url, timeout=600) as control,
    ):
        writer = app.state.services.writer
        listener = writer._on_stored  # the app's own hook (tracker, bridge) keeps running

        def measured(rows: list[Any]) -> None:
            now = time.time()
            for row in rows:
                if row.kind == "complete":
                    lags.append(now - orjson.loads(row.raw)["sandboxPublishedAt"])
                    waits.append(now - row.received_at.timestamp())
                    committed_at.append(now)
            if len(lags) >= count:
                all_stored.set()
            if listener is not None:
                listener(rows)

        writer._on_stored = measured
        deadline = time.monotonic() + 30
        while True:
            state = (await api.get("/api/v1/tracking")).json()["notifications"]
            if any(c["connectedSince"] for c in state["channels"]) and state["topics"]:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the bridge did not subscribe: {state}")
            await asyncio.sleep(0.1)
        started = time.time()
        flood = (
            await control.post(
                "/sandbox/notifications/flood",
                json={
                    "flowId": FLOW_ID,
                    "count": count,
                    **({"ratePerSecond": rate} if rate else {}),
                },
            )
        ).json()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_stored.wait(), 300)
        finished = max(committed_at) if committed_at else time.time()
        counts = app.state.services.tracking.bridge.sink.counts
    with engine.connect() as connection:
        events = Event.__table__  # type: ignore[attr-defined]
        stored = connection.execute(
            select(func.count()).where(events.c.kind == "complete")
        ).scalar_one()
        total = connection.execute(select(func.count()).select_from(events)).scalar_one()
    engine.dispose()
    lags.sort()
    waits.sort()
    return {
        "db": kind,
        "messages": count,
        "stored_messages": stored,
        "events": total,
        "published_per_s": flood["perSecond"],
        "stored_per_s": round(len(lags) / (finished - started), 1),
        "lag_p50_ms": round(statistics.median(lags) * 1000, 1) if lags else None,
        "lag_p99_ms": round(lags[int(len(lags) * 0.99) - 1] * 1000, 1) if lags else None,
        "duplicates": counts.duplicate_events,
        # From the frame's arrival in flowtrack to its commit: the rest of the lag is the
        # sandbox's sending and the socket.
        "commit_p50_ms": round(statistics.median(waits) * 1000, 1) if waits else None,
        "commit_p99_ms": round(waits[int(len(waits) * 0.99) - 1] * 1000, 1) if waits else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--count", type=int, default=20000, help="messages to flood")
    parser.add_argument("--nodes", type=int, default=3, help="nodes per flooded run")
    parser.add_argument(
        "--rate",
        type=int,
        default=None,
        help="publish at most this many messages/s (default: flat out)",
    )
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    results = []
    with tempfile.TemporaryDirectory(prefix="flowtrack-bench-bridge-") as folder:
        workdir = Path(folder)
        with sandbox(args.nodes, workdir) as sandbox_url:
            for kind in kinds:
                with database(kind, workdir, "bridge") as url:
                    results.append(asyncio.run(run(kind, url, sandbox_url, args.count, args.rate)))
    events_per_message = 2 * args.nodes + 2
    print(
        f"\nbridge: {args.count} flow-instance messages of {args.nodes} nodes ({events_per_message} events each)"
    )
    print(
        f"{'db':11} {'published/s':>12} {'stored/s':>10} {'events/s':>10} {'lag p50':>10} "
        f"{'lag p99':>10} {'arrival→commit p50':>19} {'p99':>9}  stored"
    )
    for r in results:
        print(
            f"{r['db']:11} {r['published_per_s']:>12} {r['stored_per_s']:>10} "
            f"{round(r['stored_per_s'] * events_per_message):>10} {r['lag_p50_ms']:>7} ms {r['lag_p99_ms']:>7} ms"
            f" {r['commit_p50_ms']:>16} ms {r['commit_p99_ms']:>6} ms"
            f"  {r['stored_messages']}/{r['messages']} ({r['events']} events)"
        )
    return 0 if all(r["stored_messages"] == r["messages"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
