"""Sweep benchmark: how long one sweep takes to find and claim the overdue launches.

Fills a fresh database with 100,000 running launches of which 1,000 are overdue, then
times `storage.sweeps.claim_due` claiming them (several runs, fresh claims each time), and
prints the query plan of the claiming SELECT to show it uses the due-time index rather than
scanning every launch. Target: under 1 s on SQLite and on PostgreSQL.

    ./dev bench sweep [--db sqlite|postgresql|both] [--launches 100000] [--overdue 1000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ingest import database  # noqa: E402

from storage.engine import make_engine  # noqa: E402
from storage.launches import launches  # noqa: E402
from storage.migrations import upgrade  # noqa: E402
from storage.sweeps import claim_due  # noqa: E402


def fill(url: str, total: int, overdue: int) -> float:
    engine = make_engine(url, sqlite_synchronous="normal")
    now = datetime.now(UTC)
    started = time.perf_counter()
    rows = []
    for n in range(total):
        due = (
            now - timedelta(seconds=n + 1) if n < overdue else now + timedelta(minutes=5 + n % 600)
        )
        rows.append(
            {
                "id": str(uuid.uuid4()),
                "flow_id": f"flow-{n % 20}",
                "state": "running",
                "flow_execution_id": str(uuid.uuid4()),
                "conversation_id": str(uuid.uuid4()),
                "created_at": now - timedelta(hours=1),
                "updated_at": now - timedelta(hours=1),
                "deadline_at": due,
                "due_at": due,
                "termination_attempts": 0,
            }
        )
        if len(rows) == 5000:
            with engine.begin() as connection:
                connection.execute(insert(launches), rows)
            rows = []
    if rows:
        with engine.begin() as connection:
            connection.execute(insert(launches), rows)
    engine.dispose()
    return time.perf_counter() - started


def plan(url: str) -> list[str]:
    engine = make_engine(url)
    now = datetime.now(UTC)
    query = (
        select(launches.c.id)
        .where(launches.c.due_at <= now, launches.c.claimed_until.is_(None))
        .order_by(launches.c.due_at)
        .limit(1000)
    )
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            sql = str(
                query.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True})
            )
            rows = connection.execute(text("EXPLAIN QUERY PLAN " + sql)).all()
            lines = [str(row[-1]) for row in rows]
        else:
            sql = str(
                query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
            )
            rows = connection.execute(text("EXPLAIN " + sql)).all()
            lines = [str(row[0]) for row in rows]
    engine.dispose()
    return lines


def bench(kind: str, args: argparse.Namespace, workdir: Path) -> None:
    with database(kind, workdir) as url:
        upgrade(make_engine(url))
        took = fill(url, args.launches, args.overdue)
        engine = make_engine(url)
        timings = []
        for run in range(args.runs):
            started = time.perf_counter()
            claimed = claim_due(
                engine,
                now=datetime.now(UTC),
                owner=f"bench-{run}",
                lease_seconds=60,
                limit=args.overdue,
            )
            timings.append(time.perf_counter() - started)
            assert len(claimed) == args.overdue, len(claimed)
            with engine.begin() as connection:  # release, so the next run claims them again
                connection.execute(
                    update(launches)
                    .where(launches.c.claimed_by.is_not(None))
                    .values(claimed_by=None, claimed_until=None)
                )
        engine.dispose()
        print(
            f"\n{kind}: {args.launches:,} running launches ({args.overdue:,} overdue), filled in {took:.0f} s"
        )
        print(
            f"  find + claim {args.overdue:,}: median {statistics.median(timings) * 1000:.1f} ms, "
            f"max {max(timings) * 1000:.1f} ms over {args.runs} runs (target < 1000 ms)"
        )
        print("  plan of the claiming query:")
        for line in plan(url):
            print(f"    {line}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--launches", type=int, default=100_000)
    parser.add_argument("--overdue", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    with tempfile.TemporaryDirectory(dir=ROOT) as workdir:
        for kind in kinds:
            bench(kind, args, Path(workdir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
