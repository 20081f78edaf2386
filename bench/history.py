"""History benchmark: every REST read over a large database, at one or two scales.

For each database it fills a fresh, migrated database with --conversations runs of one
main flow (about eleven events each: flowtrack's start, the flow's start, node
enter/exit pairs with retries, errors, timeouts and terminations, the completion; a
tenth of the runs also reported by the platform's execution history, so histories have
to pick one source), one launch row per run, and 2,000 runs of four smaller flows,
spread over 30 days. PostgreSQL is filled with COPY (indexes built afterwards), SQLite
through the writer. The rollups are then built by the real advancer (storage.rollups),
as ``flowtrack rollups rebuild`` would, and timed. Then it starts the real app
(``python -m receiver serve``, one uvicorn worker) and measures, warm and sequentially,
p50/p95 of every read: transitions of a conversation and of a launch, one launch, the
launches list unfiltered and by each filter (and its second page), the events list
unfiltered and by each filter (and its second page), dead letters, the flows list, and
the main flow's statistics for all time, a week and a day (target: every p95 < 50 ms).
Last, the rollup lag under the ingest benchmark's load (wrk POSTing callbacks for
--lag-seconds): how long after an event is committed the rollups hold it.

``--scale N`` measures a second database with N times the conversations (PostgreSQL:
``--db postgresql --scale 10`` is 1.1M then 11M events) and prints each read's growth.
``--database URL`` measures an existing, already filled database instead of filling one.
Figures, not assertions: these machines are shared and noisy; the load average is
printed with them.

    ./dev bench history [--db sqlite|postgresql|both] [--conversations 100000] [--scale 10]
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
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
from sqlalchemy import Engine, func, insert, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ingest import TOKEN as INGEST_TOKEN  # noqa: E402
from ingest import database, free_port, server  # noqa: E402
from ingest import wrk as ingest_load  # noqa: E402

from receiver.ingest.dedupe import dedupe_key  # noqa: E402
from storage import rollups  # noqa: E402
from storage.engine import make_engine  # noqa: E402
from storage.migrations import upgrade  # noqa: E402
from storage.records import EventRecord  # noqa: E402
from storage.tables import Event, Launch  # noqa: E402
from storage.writer import EventWriter  # noqa: E402

launches_table = Launch.__table__  # type: ignore[attr-defined]
events_table = Event.__table__  # type: ignore[attr-defined]
SAMPLES = 5000
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
    rollup_seconds: float = 0.0
    rollup_events: int = 0
    lag: list[float] = field(default_factory=list)  # rollup lag samples under ingest, s
    ingested: float = 0.0  # events/s the ingest load stored meanwhile


def generated(conversations: int, seed: int) -> Any:
    """(run, its events, its launch row) for every run, in time order; deterministic."""
    rng = random.Random(seed)
    flows = [MAIN_FLOW] * conversations + SMALL_FLOWS * SMALL_FLOW_RUNS
    step = SPAN / len(flows)
    rng.shuffle(flows)
    for index, flow_id in enumerate(flows):
        run = plan(rng, flow_id, EPOCH + step * index)
        rows, last_at, last_node = events_of(rng, run)
        yield run, rows, launch_row(run, last_at, last_node)


class Sampler:
    """Picks about SAMPLES of the main flow's runs, spread over the whole fill."""

    def __init__(self, conversations: int) -> None:
        self.fraction = min(1.0, 2 * SAMPLES / max(conversations, 1))
        self.rng = random.Random(3)
        self.taken = 0

    def __call__(self, run: Run) -> bool:
        if run.flow_id != MAIN_FLOW or self.taken >= SAMPLES:
            return False
        if self.rng.random() >= self.fraction:
            return False
        self.taken += 1
        return True


def fill(url: str, conversations: int, seed: int = 7) -> Filled:
    """Fill a fresh database: PostgreSQL with COPY, SQLite through the writer."""
    if url.startswith("postgresql"):
        return copy_fill(url, conversations, seed)
    return writer_fill(url, conversations, seed)


def copy_fill(url: str, conversations: int, seed: int) -> Filled:
    """COPY the generated runs into PostgreSQL, with the secondary indexes built after."""
    engine = make_engine(url)
    upgrade(engine)
    started = time.perf_counter()
    indexes = [*events_table.indexes, *launches_table.indexes]
    with engine.begin() as connection:
        for index in indexes:
            connection.exec_driver_sql(f"DROP INDEX {index.name}")
    dsn = url.replace("postgresql+psycopg", "postgresql")
    sample_conversations: list[str] = []
    sample_launches: list[str] = []
    sampled = Sampler(conversations)
    total = 0
    launch_columns = None
    with psycopg.connect(dsn) as first, psycopg.connect(dsn) as second:
        event_copy = first.cursor().copy(
            f"COPY events ({', '.join(EventRecord._fields)}) FROM STDIN"
        )
        with event_copy as events_in:
            launch_rows: list[dict[str, Any]] = []
            for run, rows, launch in generated(conversations, seed):
                for row in rows:
                    events_in.write_row(row)
                total += len(rows)
                launch_rows.append(launch)
                if sampled(run):
                    sample_conversations.append(run.conversation_id)
                    sample_launches.append(run.launch_id)
                if len(launch_rows) >= 50_000:
                    launch_columns = _copy_launches(second, launch_rows)
                    launch_rows = []
            launch_columns = _copy_launches(second, launch_rows) or launch_columns
        first.commit()
    with engine.begin() as connection:
        for index in indexes:
            index.create(connection)
    _analyze(engine)
    engine.dispose()
    return Filled(
        sample_conversations, sample_launches, total, time.perf_counter() - started, conversations
    )


def _copy_launches(connection: Any, rows: list[dict[str, Any]]) -> Any:
    if not rows:
        return None
    columns = list(rows[0])
    with connection.cursor().copy(f"COPY launches ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[column] for column in columns])
    connection.commit()
    return columns


def build_rollups(url: str, filled: Filled) -> None:
    """Take every event and launch into the rollups, as ``flowtrack rollups rebuild``."""
    engine = make_engine(url)
    started = time.perf_counter()
    while True:
        report = rollups.advance(engine, limit=5000)
        filled.rollup_events += report.events
        if not report.more and not report.conflict:
            break
    filled.rollup_seconds = time.perf_counter() - started
    _analyze(engine)
    engine.dispose()


def writer_fill(url: str, conversations: int, seed: int = 7) -> Filled:
    """Store the generated runs: events through the writer, launches by multi-row insert."""
    engine = make_engine(url, sqlite_synchronous="normal")
    upgrade(engine)
    logging.getLogger("flowtrack.storage.writer").setLevel(logging.ERROR)  # big batches are slow
    started = time.perf_counter()
    sample_conversations: list[str] = []
    sample_launches: list[str] = []
    sampled = Sampler(conversations)
    total = 0

    async def run_all() -> None:
        nonlocal total
        writer = EventWriter(engine, max_batch_events=20_000)
        writer.start()
        batch: list[EventRecord] = []
        launch_rows: list[dict[str, Any]] = []
        pending: list[asyncio.Future[Any]] = []
        for run, rows, launch in generated(conversations, seed):
            batch.extend(rows)
            launch_rows.append(launch)
            if sampled(run):
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

    def at(self, fraction: float) -> float:
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000


def sequential(base: str, paths: list[str], name: str, *, items: bool = True) -> Timing:
    """GET each path in turn, after a few to warm the connection and the caches."""
    timing = Timing(name, [])
    with httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=60
    ) as http:
        for path in paths[:10]:
            http.get(path)
        for path in paths:
            started = time.perf_counter()
            response = http.get(path)
            timing.seconds.append(time.perf_counter() - started)
            if response.status_code != 200 or (items and not response.json().get("items", 1)):
                timing.errors += 1
    return timing


def bench_database(kind: str, args: argparse.Namespace, workdir: Path) -> list[Measured]:
    """Measure one database per scale; PostgreSQL's larger one is the smaller, copied."""
    if args.database:  # measure a database an earlier run filled
        return [measure(args.database, existing(args.database), args)]
    measured = []
    with database(kind, workdir) as url:
        filled = fill(url, args.conversations)
        print(
            f"  {kind}: filled {filled.events:,} events in {filled.seconds:.0f} s", file=sys.stderr
        )
        build_rollups(url, filled)
        print(
            f"  {kind}: rollups built from {filled.rollup_events:,} events in "
            f"{filled.rollup_seconds:.0f} s",
            file=sys.stderr,
        )
        measured.append(measure(url, filled, args))
        report(kind, measured)
        if args.scale > 1 and kind == "postgresql":
            with replicated(url, filled, args.scale) as (larger, grown):
                print(
                    f"  {kind}: copied to {grown.events:,} events in {grown.seconds:.0f} s",
                    file=sys.stderr,
                )
                measured.append(measure(larger, grown, args))
    if args.scale > 1 and kind == "sqlite":
        with database(kind, workdir) as url:
            filled = fill(url, args.conversations * args.scale)
            build_rollups(url, filled)
            measured.append(measure(url, filled, args))
    return measured


@contextmanager
def replicated(url: str, filled: Filled, factor: int) -> Iterator[tuple[str, Filled]]:
    """A copy of the filled PostgreSQL database with every run ``factor`` times over.

    The copies are the same runs under other ids (suffix ``~n``), at the same times: the
    traffic of one month, ``factor`` times as dense. Their rollups are the originals
    multiplied, exactly what the advancer computes from them (its speed is measured on
    the original)."""
    admin_url = url.replace("postgresql+psycopg", "postgresql").rsplit("/", 1)[0] + "/postgres"
    source = url.rsplit("/", 1)[1]
    name = f"{source}_x{factor}"
    started = time.perf_counter()
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
    larger = url.rsplit("/", 1)[0] + "/" + name
    try:
        engine = make_engine(larger)
        with engine.begin() as connection:
            _multiply(connection, factor)
        _analyze(engine)
        with engine.connect() as connection:
            total = connection.exec_driver_sql("SELECT count(*) FROM events").scalar_one()
        engine.dispose()
        rng = random.Random(5)

        def copy_of(value: str) -> str:
            n = rng.randrange(factor)
            return value if n == 0 else f"{value}~{n}"

        grown = Filled(
            [copy_of(value) for value in filled.conversations],
            [copy_of(value) for value in filled.launches],
            total,
            time.perf_counter() - started,
            filled.main_launches * factor,
            rollup_seconds=filled.rollup_seconds,
            rollup_events=filled.rollup_events,
        )
        yield larger, grown
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _multiply(connection: Any, factor: int) -> None:
    run = ("launch_id", "flow_execution_id", "conversation_id")
    event_columns = [c.name for c in events_table.columns if c.name != "id"]
    launch_columns = [c.name for c in launches_table.columns]
    top = connection.exec_driver_sql("SELECT max(id) FROM events").scalar_one()
    indexes = [*events_table.indexes, *launches_table.indexes]
    for index in indexes:
        connection.exec_driver_sql(f"DROP INDEX {index.name}")
    for n in range(1, factor):
        suffix = f"'~{n}'"
        picked = [
            f"decode(md5(encode(dedupe_key, 'hex') || {suffix}), 'hex')"
            if column == "dedupe_key"
            else f"{column} || {suffix}"
            if column in run
            else column
            for column in event_columns
        ]
        connection.exec_driver_sql(
            f"INSERT INTO events ({', '.join(event_columns)}) "  # noqa: S608
            f"SELECT {', '.join(picked)} FROM events WHERE id <= {top}"
        )
        launched = [
            f"{column} || {suffix}"
            if column in ("id", *run)
            else "NULL"
            if column == "idempotency_key"
            else column
            for column in launch_columns
        ]
        connection.exec_driver_sql(
            f"INSERT INTO launches ({', '.join(launch_columns)}) "  # noqa: S608
            f"SELECT {', '.join(launched)} FROM launches WHERE strpos(id, '~') = 0"
        )
        connection.exec_driver_sql(
            "INSERT INTO rollup_runs (flow_id, run_key, last_at, facts) "  # noqa: S608
            f"SELECT flow_id, run_key || {suffix}, last_at, facts FROM rollup_runs "
            "WHERE strpos(run_key, '~') = 0"
        )
        connection.exec_driver_sql(
            "INSERT INTO rollup_launch_seen (launch_id, flow_id, bucket, state, node_id, "  # noqa: S608
            f"created_at) SELECT launch_id || {suffix}, flow_id, bucket, state, node_id, "
            "created_at FROM rollup_launch_seen WHERE strpos(launch_id, '~') = 0"
        )
    for table, columns in (
        ("rollup_nodes", ("entries", "exits", "errors", "open_visits", "runs", "events")),
        ("rollup_durations", ("visits",)),
        ("rollup_edges", ("transitions",)),
        ("rollup_paths", ("runs",)),
        ("rollup_launches", ("launches",)),
    ):
        changes = ", ".join(f"{column} = {column} * {factor}" for column in columns)
        connection.exec_driver_sql(f"UPDATE {table} SET {changes}")  # noqa: S608
    connection.exec_driver_sql(
        "UPDATE rollup_state SET position = (SELECT max(id) FROM events), "
        "launches_at = (SELECT max(updated_at) FROM launches)"
    )
    for index in indexes:
        index.create(connection)


Measured = tuple["Filled", list["Timing"]]


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
            .limit(SAMPLES)
        ).all()
    engine.dispose()
    return Filled([row[1] for row in rows], [row[0] for row in rows], total, 0.0, main)


def reads(filled: Filled, requests: int, rng: random.Random) -> list[tuple[str, list[str], bool]]:
    """(name, paths, whether the answer is a page with items) of every read measured."""
    day = (EPOCH + SPAN / 2).strftime("%Y-%m-%dT%H:%M:%SZ")
    week_before = (EPOCH + SPAN / 2 - timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    day_before = (EPOCH + SPAN / 2 - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def some(template: str, values: list[str]) -> list[str]:
        return [template.format(rng.choice(values)) for _ in range(requests)]

    def same(path: str, times: int = requests) -> list[str]:
        return [path] * times

    stats = max(requests // 10, 20)
    return [
        (
            "conversation transitions",
            some("/api/v1/conversations/{}/transitions", filled.conversations),
            True,
        ),
        ("launch transitions", some("/api/v1/launches/{}/transitions", filled.launches), True),
        ("one launch", some("/api/v1/launches/{}", filled.launches), False),
        ("launches", same("/api/v1/launches"), True),
        ("launches ?state=completed", same("/api/v1/launches?state=completed"), True),
        ("launches ?state=timed_out", same("/api/v1/launches?state=timed_out"), True),
        ("launches ?flowId=main", same(f"/api/v1/launches?flowId={MAIN_FLOW}"), True),
        ("launches ?since=", same(f"/api/v1/launches?since={day}"), True),
        ("launches ?until=", same(f"/api/v1/launches?until={day}"), True),
        ("events", same("/api/v1/events"), True),
        (
            "events ?conversationId=",
            some("/api/v1/events?conversationId={}", filled.conversations),
            True,
        ),
        ("events ?launchId=", some("/api/v1/events?launchId={}", filled.launches), True),
        ("events ?flowId=main", same(f"/api/v1/events?flowId={MAIN_FLOW}"), True),
        ("events ?kind=error", same("/api/v1/events?kind=error"), True),
        ("events ?since=", same(f"/api/v1/events?since={day}"), True),
        ("events ?until=", same(f"/api/v1/events?until={day}"), True),
        ("dead letters", same("/api/v1/dead-letters"), False),
        ("flows list", same("/api/v1/flows", stats), True),
        ("flow stats, all time", same(f"/api/v1/flows/{MAIN_FLOW}/stats", stats), False),
        (
            "flow stats, a week",
            same(f"/api/v1/flows/{MAIN_FLOW}/stats?since={week_before}&until={day}", stats),
            False,
        ),
        (
            "flow stats, a day",
            same(f"/api/v1/flows/{MAIN_FLOW}/stats?since={day_before}&until={day}", stats),
            False,
        ),
    ]


def measure(url: str, filled: Filled, args: argparse.Namespace) -> tuple[Filled, list[Timing]]:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FLOWTRACK_")},
        "FLOWTRACK_DATABASE_URL": url,
        "FLOWTRACK_CALLBACK_TOKENS": f"{TOKEN},{INGEST_TOKEN}",
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
    with server(command, env, port):
        httpx.get(f"{base}/readyz").raise_for_status()
        timings = [
            sequential(base, paths, name, items=items)
            for name, paths, items in reads(filled, args.requests, rng)
        ]
        filled.load = os.getloadavg()
        if args.lag_seconds:
            rollup_lag(url, port, args.lag_seconds, filled)
    return filled, timings


def rollup_lag(url: str, port: int, seconds: int, filled: Filled) -> None:
    """Under wrk's ingest load, how long after an event is committed the rollups hold it:
    every 50 ms the newest event id and the rollups' position are read; a sample's lag
    is the time until the position reaches the id that was newest then."""
    engine = make_engine(url)
    samples: list[tuple[float, int, int]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            behind, state = rollups.lag(engine)
            samples.append((time.perf_counter(), state.position + behind, state.position))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    result = ingest_load(port, seconds, 16, f"lag{uuid.uuid4().hex[:6]}", 1)
    time.sleep(3)
    done.set()
    sampler.join()
    engine.dispose()
    filled.ingested = result["requests"] / (result["duration_us"] / 1e6)
    for index, (at, newest, _) in enumerate(samples):
        caught = next((t for t, _, position in samples[index:] if position >= newest), None)
        if caught is not None:
            filled.lag.append(caught - at)


def report(kind: str, scales: list[tuple[Filled, list[Timing]]]) -> None:
    for filled, _ in scales:
        load = ", ".join(f"{value:.1f}" for value in filled.load)
        print(
            f"\n{kind}: {filled.events:,} events, {filled.main_launches:,} main-flow launches; "
            f"filled in {filled.seconds:.0f} s, rollups built in {filled.rollup_seconds:.0f} s "
            f"({filled.rollup_events / max(filled.rollup_seconds, 1e-9):,.0f} events/s); "
            f"load {load}"
        )
        if filled.lag:
            lag = sorted(filled.lag)
            print(
                f"  rollup lag under ingest ({filled.ingested:,.0f} callbacks/s): "
                f"p50 {lag[len(lag) // 2]:.2f} s, p95 {lag[int(len(lag) * 0.95)]:.2f} s, "
                f"max {lag[-1]:.2f} s"
            )
    print(f"\n  {'read':32}", end="")
    for filled, _ in scales:
        print(f" {filled.events / 1e6:>6.1f}M p50 {'p95':>6}", end="")
    print(f" {'p95 ratio':>9} {'errors':>6}")
    for row, timing in enumerate(scales[0][1]):
        print(f"  {timing.name:32}", end="")
        for _, timings in scales:
            print(f" {timings[row].at(0.5):10.1f} {timings[row].at(0.95):6.1f}", end="")
        ratio = scales[-1][1][row].at(0.95) / max(timing.at(0.95), 1e-9)
        errors = sum(timings[row].errors for _, timings in scales)
        print(f" {ratio:9.2f} {errors:6}" if len(scales) > 1 else f" {'':9} {errors:6}")
    print("  target: every p95 < 50 ms (warm, sequential); growth at 10x <= 1.5x")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--scale", type=int, default=1, help="also measure N times as many")
    parser.add_argument("--requests", type=int, default=300, help="per read")
    parser.add_argument("--lag-seconds", type=int, default=10, help="0: no lag measurement")
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
    results: dict[str, list[Measured]] = {}
    with tempfile.TemporaryDirectory(dir=ROOT) as workdir:
        for kind in kinds:
            results[kind] = bench_database(kind, args, Path(workdir))
    for kind, scales in results.items():
        report(kind, scales)
    errors = sum(t.errors for scales in results.values() for _, ts in scales for t in ts)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
