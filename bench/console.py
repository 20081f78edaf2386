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
from datetime import UTC, datetime, timedelta
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


@dataclass
class Page:
    """A console page's addresses, and the REST API read it mirrors (None: no one read)."""

    name: str
    console: list[str]
    api: list[str] | None = None


def pages(filled: Filled, requests: int) -> list[Page]:
    """Each page with ``requests`` addresses (random launches and conversations)."""
    rng = random.Random(13)
    picks = [rng.randrange(len(filled.launches)) for _ in range(requests)]
    launches = [filled.launches[i] for i in picks]
    conversations = [filled.conversations[i % len(filled.conversations)] for i in picks]
    since = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def each(path: str) -> list[str]:
        return [path] * requests

    return [
        Page("overview", each("/ui/")),
        Page("launches, newest", each("/ui/launches"), each("/api/v1/launches?limit=50")),
        Page(
            "launches, state=failed",
            each("/ui/launches?state=failed"),
            each("/api/v1/launches?state=failed&limit=50"),
        ),
        Page(
            "launches, one flow",
            each(f"/ui/launches?flow={MAIN_FLOW}"),
            each(f"/api/v1/launches?flowId={MAIN_FLOW}&limit=50"),
        ),
        Page("launches, search by conversation", [f"/ui/launches?q={c}" for c in conversations]),
        # Text that is no id: the launches whose name starts with it (none here, so the
        # whole list is walked while no index on names exists).
        Page("launches, search by name", each("/ui/launches?q=order")),
        Page(
            "one launch",
            [f"/ui/launches/{launch}" for launch in launches],
            [f"/api/v1/launches/{launch}/transitions" for launch in launches],
        ),
        Page(
            "one conversation",
            [f"/ui/conversations/{c}" for c in conversations],
            [f"/api/v1/conversations/{c}/transitions" for c in conversations],
        ),
        Page("flows", each("/ui/flows"), each("/api/v1/flows")),
        Page(
            "one flow, all time (main)",
            each(f"/ui/flows/{MAIN_FLOW}?range=all"),
            each(f"/api/v1/flows/{MAIN_FLOW}/stats"),
        ),
        Page(
            "one flow, 24 h (small)",
            each(f"/ui/flows/{SMALL_FLOWS[0]}?range=24h"),
            each(f"/api/v1/flows/{SMALL_FLOWS[0]}/stats?since={since}"),
        ),
        Page(
            "dead letters",
            each("/ui/dead-letters"),
            each("/api/v1/dead-letters?limit=25"),
        ),
    ]


def timed(http: httpx.Client, api: httpx.Client, page: Page) -> tuple[Timing, Timing | None]:
    """The page and its API read, request by request in turn (the same noise for both)."""
    console, mirrored = Timing(page.name), Timing(page.name) if page.api else None
    for address in page.console[:5]:  # warm
        http.get(address)
    for index, address in enumerate(page.console):
        started = time.perf_counter()
        response = http.get(address)
        console.seconds.append(time.perf_counter() - started)
        # A search that names a conversation is answered by a redirect to it.
        if response.status_code not in (200, 303):
            console.errors += 1
        if page.api and mirrored is not None:
            started = time.perf_counter()
            answer = api.get(page.api[index])
            mirrored.seconds.append(time.perf_counter() - started)
            if answer.status_code != 200:
                mirrored.errors += 1
    return console, mirrored


def measure(url: str, filled: Filled, requests: int) -> list[tuple[Timing, Timing | None]]:
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
        headers = {"Authorization": f"Bearer {API_KEY}"}
        with (
            httpx.Client(base_url=base, timeout=60) as http,
            httpx.Client(base_url=base, timeout=60, headers=headers) as api,
        ):
            sign_in(http)
            return [timed(http, api, page) for page in pages(filled, requests)]


def report(
    kind: str, filled: Filled, timings: list[tuple[Timing, Timing | None]], rollups: float
) -> None:
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(
        f"\n{kind}: {filled.events:,} events, {filled.main_launches:,} main-flow launches; "
        f"filled in {filled.seconds:.0f} s, rollups brought up to date in {rollups:.0f} s; "
        f"load {load}"
    )
    print(
        f"  {'console page':34} {'n':>4} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} "
        f"{'API p50':>8} {'API p95':>8} {'p95 ratio':>9}"
    )
    for console, api in timings:
        p50, p95, most = console.at(0.5), console.at(0.95), console.at(1.0)
        side = "       —        —         —"
        if api is not None:
            side = f"{api.at(0.5):8.1f} {api.at(0.95):8.1f} {p95 / api.at(0.95):8.2f}x"
        mark = "" if p95 < TARGET_P95_MS else "  over"
        errors = console.errors + (api.errors if api else 0)
        print(
            f"  {console.name:34} {len(console.seconds):>4} {p50:7.1f} {p95:7.1f} {most:7.1f} "
            f"{side}{mark}{f'  {errors} errors' if errors else ''}"
        )
    print(
        f"  target: every page p95 < {TARGET_P95_MS:.0f} ms (warm, sequential); each page and "
        "the REST read it mirrors are requested in turn, so the ratio holds on a noisy machine"
    )


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
        return 1 if any(c.errors or (a and a.errors) for c, a in timings) else 0
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    with tempfile.TemporaryDirectory(dir=ROOT) as workdir:
        for kind in kinds:
            with database(kind, Path(workdir)) as url:
                filled = fill(url, args.conversations)
                print(f"  {kind}: filled {filled.events:,} events", file=sys.stderr)
                rollups = rollups_current(url)
                timings = measure(url, filled, args.requests)
                report(kind, filled, timings, rollups)
                failed = failed or any(c.errors or (a and a.errors) for c, a in timings)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
