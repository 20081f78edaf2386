"""Console benchmark: every web console page at 1.1M events / 100,000 launches.

It fills a fresh database with bench/history.py's generator (``--conversations`` runs of
the main flow, about eleven events each, one launch per run, and the smaller flows),
brings the statistics' rollups up to date when this flowtrack has them, starts the real
app (``python -m receiver serve``), signs in to the console with an API key as a browser
would (the sign-in form, its CSRF token, the session cookie) and requests each page
sequentially, warm: p50 and p95 per page (target: p95 < 50 ms on both databases).

Figures, not assertions: these machines are shared and noisy; the load average is
printed with them.

    ./dev bench console [--db sqlite|postgresql|both] [--conversations 100000]
    .venv/bin/python bench/console.py --database sqlite:////path/filled.db
"""

from __future__ import annotations

import argparse
import functools
import importlib
import os
import random
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import history  # noqa: E402
from history import (  # noqa: E402
    API_KEY,
    MAIN_FLOW,
    SMALL_FLOWS,
    TOKEN,
    Filled,
    existing,
    fill,
)
from ingest import database, free_port, server  # noqa: E402

from storage.engine import make_engine  # noqa: E402

TARGET_P95_MS = 50.0

# The fill's 20,000-event commits can hold SQLite's write lock for longer than the default
# 5 s on a busy machine, and its launch inserts would give up: give them two minutes.
history.make_engine = functools.partial(make_engine, sqlite_busy_timeout_ms=120_000)


@dataclass
class Timing:
    """One page's request times (seconds) and failed answers."""

    name: str
    seconds: list[float] = field(default_factory=list)
    errors: int = 0

    def at(self, fraction: float) -> float:
        """The ``fraction`` quantile in ms (nearest rank)."""
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000


def rollups_current(url: str) -> float:
    """Advance the rollups over everything filled, when this flowtrack keeps them; seconds."""
    try:
        rollups = importlib.import_module("storage.rollups")
    except ImportError:
        return 0.0
    engine = make_engine(url)
    started = time.perf_counter()
    try:
        while rollups.lag(engine)[0] > 0:
            rollups.advance(engine, limit=50_000)
        rollups.advance(engine, limit=50_000)  # the launches' states too
    finally:
        engine.dispose()
    return time.perf_counter() - started


def sign_in(http: httpx.Client) -> None:
    """Start a console session the way a browser does (the form, its token, the cookie)."""
    form = http.get("/ui/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token, "the sign-in form has no CSRF token"
    answer = http.post("/ui/login", data={"key": API_KEY, "csrf": token.group(1)})
    assert answer.status_code == 303, answer.text


def pages(filled: Filled, requests: int) -> dict[str, list[str]]:
    """Each page with ``requests`` addresses (random launches and conversations)."""
    rng = random.Random(13)

    def some(addresses: list[str]) -> list[str]:
        return [rng.choice(addresses) for _ in range(requests)]

    return {
        "overview": ["/ui/"] * requests,
        "launches, newest": ["/ui/launches"] * requests,
        "launches, state=failed": ["/ui/launches?state=failed"] * requests,
        "launches, one flow": [f"/ui/launches?flow={MAIN_FLOW}"] * requests,
        "launches, search by conversation": some(
            [f"/ui/launches?q={c}" for c in filled.conversations]
        ),
        "one launch": some([f"/ui/launches/{launch}" for launch in filled.launches]),
        "one conversation": some([f"/ui/conversations/{c}" for c in filled.conversations]),
        "flows": ["/ui/flows"] * requests,
        "one flow, all time (main)": [f"/ui/flows/{MAIN_FLOW}?range=all"] * requests,
        "one flow, 24 h (small)": [f"/ui/flows/{SMALL_FLOWS[0]}?range=24h"] * requests,
        "dead letters": ["/ui/dead-letters"] * requests,
    }


def timed(http: httpx.Client, name: str, addresses: list[str]) -> Timing:
    timing = Timing(name)
    for address in addresses[:5]:  # warm
        http.get(address)
    for address in addresses:
        started = time.perf_counter()
        response = http.get(address)
        timing.seconds.append(time.perf_counter() - started)
        # A search that names a conversation is answered by a redirect to it.
        if response.status_code not in (200, 303):
            timing.errors += 1
    return timing


def measure(url: str, filled: Filled, requests: int) -> list[Timing]:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FLOWTRACK_")},
        "FLOWTRACK_DATABASE_URL": url,
        "FLOWTRACK_CALLBACK_TOKENS": TOKEN,
        "FLOWTRACK_API_KEYS": API_KEY,
        "FLOWTRACK_UI_SECRET": "bench-console-secret-0123456789abcdef",
        "FLOWTRACK_LOG_LEVEL": "WARNING",
        "FLOWTRACK_SWEEP_ENABLED": "0",
    }
    command = [sys.executable, "-m", "receiver", "serve", "--host", "127.0.0.1"]
    base = f"http://127.0.0.1:{port}"
    with server([*command, "--port", str(port)], env, port):
        httpx.get(f"{base}/readyz").raise_for_status()
        with httpx.Client(base_url=base, timeout=60) as http:
            sign_in(http)
            return [timed(http, name, paths) for name, paths in pages(filled, requests).items()]


def report(kind: str, filled: Filled, timings: list[Timing], rollups: float) -> None:
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(
        f"\n{kind}: {filled.events:,} events, {filled.main_launches:,} main-flow launches; "
        f"filled in {filled.seconds:.0f} s, rollups brought up to date in {rollups:.0f} s; "
        f"load {load}"
    )
    print(f"  {'console page':36} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'errors':>6}")
    for timing in timings:
        p50, p95, most = timing.at(0.5), timing.at(0.95), timing.at(1.0)
        mark = "" if p95 < TARGET_P95_MS else "  over target"
        print(
            f"  {timing.name:36} {len(timing.seconds):>5} {p50:8.1f} {p95:8.1f} {most:8.1f} "
            f"{timing.errors:6}{mark}"
        )
    print(f"  target: every page p95 < {TARGET_P95_MS:.0f} ms (warm, sequential)")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=100, help="per page")
    parser.add_argument("--database", help="measure this already filled database URL (no fill)")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores", file=sys.stderr)
    failed = False
    if args.database:
        filled = existing(args.database)
        timings = measure(args.database, filled, args.requests)
        report(args.database.split(":", 1)[0], filled, timings, 0.0)
        return 1 if any(t.errors for t in timings) else 0
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    with tempfile.TemporaryDirectory(dir=ROOT) as workdir:
        for kind in kinds:
            with database(kind, Path(workdir)) as url:
                filled = fill(url, args.conversations)
                print(f"  {kind}: filled {filled.events:,} events", file=sys.stderr)
                rollups = rollups_current(url)
                timings = measure(url, filled, args.requests)
                report(kind, filled, timings, rollups)
                failed = failed or any(t.errors for t in timings)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
