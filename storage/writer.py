"""Group commit: one writer thread per process stores what every request hands it.

Requests put their rows on a queue and wait. The writer takes everything that is
waiting, stores it in one transaction, commits, and only then answers every request in
that batch. While it commits, new requests queue up and form the next batch, so the
commit cost is shared without any artificial delay (no linger). The thread uses a plain
DB-API connection and multi-row statements: no ORM objects, no per-row round trips, and
the database driver runs without the GIL while the event loop keeps serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import psycopg
from sqlalchemy import Engine

from storage.columns import sqlite_datetime
from storage.errors import StorageError, StorageUnavailable
from storage.records import (
    DEAD_LETTER_COLUMNS,
    EVENT_COLUMNS,
    DeadLetterRecord,
    EventRecord,
    WriteResult,
)

log = logging.getLogger("flowtrack.storage.writer")

_STOP = object()

_PG_TYPES = {"dedupe_key": "bytea", "occurred_at": "timestamptz", "received_at": "timestamptz"}


@dataclass(slots=True)
class _Submission:
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[WriteResult]
    events: Sequence[EventRecord]
    dead_letters: Sequence[DeadLetterRecord] = field(default=())


class _Dialect(Protocol):
    def insert_events(self, cursor: Any, rows: list[EventRecord]) -> set[bytes]: ...

    def insert_dead_letters(self, cursor: Any, rows: Sequence[DeadLetterRecord]) -> None: ...

    def begin(self, cursor: Any) -> None: ...


class _Sqlite:
    # SQLite allows 32,766 bound parameters per statement.
    chunk = 32766 // len(EVENT_COLUMNS)
    _row = "(" + ",".join("?" * len(EVENT_COLUMNS)) + ")"
    _prefix = f"INSERT INTO events ({','.join(EVENT_COLUMNS)}) VALUES "
    _suffix = " ON CONFLICT (dedupe_key) DO NOTHING RETURNING dedupe_key"
    _dead = (
        f"INSERT INTO dead_letters ({','.join(DEAD_LETTER_COLUMNS)}) "
        f"VALUES ({','.join('?' * len(DEAD_LETTER_COLUMNS))})"
    )

    def __init__(self) -> None:
        self._statements: dict[int, str] = {}

    def begin(self, cursor: Any) -> None:
        cursor.execute("BEGIN IMMEDIATE")

    def insert_events(self, cursor: Any, rows: list[EventRecord]) -> set[bytes]:
        inserted: set[bytes] = set()
        for start in range(0, len(rows), self.chunk):
            part = rows[start : start + self.chunk]
            params: list[Any] = []
            for row in part:
                params.extend(row[:3])
                params.append(sqlite_datetime(row[3]))
                params.append(sqlite_datetime(row[4]))
                params.extend(row[5:])
            cursor.execute(self._statement(len(part)), params)
            inserted.update(key for (key,) in cursor.fetchall())
        return inserted

    def insert_dead_letters(self, cursor: Any, rows: Sequence[DeadLetterRecord]) -> None:
        cursor.executemany(self._dead, [(sqlite_datetime(row[0]), *row[1:]) for row in rows])

    def _statement(self, count: int) -> str:
        statement = self._statements.get(count)
        if statement is None:
            statement = self._prefix + ",".join([self._row] * count) + self._suffix
            self._statements[count] = statement
        return statement


class _Postgres:
    # One statement text whatever the batch size, so the server plans it once.
    _insert = (
        f"INSERT INTO events ({','.join(EVENT_COLUMNS)}) "
        "SELECT * FROM unnest("
        + ",".join(f"%s::{_PG_TYPES.get(column, 'text')}[]" for column in EVENT_COLUMNS)
        + ") ON CONFLICT (dedupe_key) DO NOTHING RETURNING dedupe_key"
    )
    _dead = (
        f"INSERT INTO dead_letters ({','.join(DEAD_LETTER_COLUMNS)}) "
        f"VALUES ({','.join(['%s'] * len(DEAD_LETTER_COLUMNS))})"
    )

    def begin(self, cursor: Any) -> None:
        pass  # psycopg opens the transaction on the first statement

    def insert_events(self, cursor: Any, rows: list[EventRecord]) -> set[bytes]:
        columns = [list(values) for values in zip(*rows, strict=True)]
        cursor.execute(self._insert, columns, prepare=True)
        return {bytes(key) for (key,) in cursor.fetchall()}

    def insert_dead_letters(self, cursor: Any, rows: Sequence[DeadLetterRecord]) -> None:
        cursor.executemany(self._dead, list(rows))


class EventWriter:
    """The process's single writer for events and dead letters.

    ``await writer.write(events)`` returns only after the rows are committed, with how
    many were new and how many were already stored (duplicates, also within the batch).
    """

    def __init__(self, engine: Engine, *, max_batch_events: int = 5000) -> None:
        self._engine = engine
        self._max_batch_events = max_batch_events
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._connection: Any = None
        self._dialect: _Dialect = _Sqlite() if engine.dialect.name == "sqlite" else _Postgres()
        self._carry: _Submission | None = None
        self.batches = 0
        self.rows = 0

    def start(self) -> None:
        """Start the writer thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="flowtrack-writer", daemon=True)
            self._thread.start()

    def close(self, timeout: float = 30.0) -> None:
        """Finish everything already submitted, then stop the thread and disconnect."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout)
            self._thread = None

    async def write(
        self,
        events: Sequence[EventRecord],
        dead_letters: Sequence[DeadLetterRecord] = (),
    ) -> WriteResult:
        """Store ``events`` (and dead letters) durably; return once committed."""
        if self._thread is None:
            raise StorageUnavailable("the event writer is not running")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[WriteResult] = loop.create_future()
        self._queue.put(_Submission(loop, future, events, dead_letters))
        return await future

    # -- writer thread -------------------------------------------------------------

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._carry or self._queue.get()
            self._carry = None
            if first is _STOP:
                break
            batch = [first]
            size = len(first.events)
            while size < self._max_batch_events:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    break
                batch.append(item)
                size += len(item.events)
            self._commit(batch)
        # Answer anything still queued so no caller waits forever.
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP:
                self._commit([item])
        self._disconnect()

    def _commit(self, batch: list[_Submission]) -> None:
        started = time.perf_counter()
        try:
            results: list[WriteResult] | BaseException = self._store(batch)
        except BaseException as exc:  # every failure must reach the waiting requests
            self._disconnect()
            results = _wrap(exc)
            log.warning(
                "batch failed",
                extra={
                    "action": "storage.batch_failed",
                    "error": str(results),
                    "requests": len(batch),
                },
            )
        else:
            self.batches += 1
            elapsed_ms = (time.perf_counter() - started) * 1000
            if elapsed_ms > 250:
                log.warning(
                    "slow commit",
                    extra={
                        "action": "storage.slow_commit",
                        "ms": round(elapsed_ms, 1),
                        "requests": len(batch),
                    },
                )
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[WriteResult], Any]]] = {}
        for index, submission in enumerate(batch):
            outcome = results if isinstance(results, BaseException) else results[index]
            by_loop.setdefault(submission.loop, []).append((submission.future, outcome))
        for loop, answers in by_loop.items():
            # A closed loop has nobody waiting any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_resolve, answers)

    def _store(self, batch: list[_Submission]) -> list[WriteResult]:
        connection = self._connect()
        cursor = connection.cursor()
        # Keep the first delivery of each key within the batch; later ones are duplicates.
        first_seen: dict[bytes, int] = {}
        rows: list[EventRecord] = []
        dead_letters: list[DeadLetterRecord] = []
        for index, submission in enumerate(batch):
            for row in submission.events:
                if row.dedupe_key not in first_seen:
                    first_seen[row.dedupe_key] = index
                    rows.append(row)
            dead_letters.extend(submission.dead_letters)
        try:
            self._dialect.begin(cursor)
            inserted = self._dialect.insert_events(cursor, rows) if rows else set()
            if dead_letters:
                self._dialect.insert_dead_letters(cursor, dead_letters)
            if isinstance(connection, sqlite3.Connection):
                cursor.execute("COMMIT")
            else:
                connection.commit()
        except BaseException:
            _rollback(connection)
            raise
        finally:
            cursor.close()
        self.rows += len(inserted)
        results: list[WriteResult] = []
        for index, submission in enumerate(batch):
            accepted = 0
            for row in submission.events:
                key = row.dedupe_key
                if key in inserted and first_seen.get(key) == index:
                    accepted += 1
                    first_seen[key] = -1  # a repeat inside the same request is a duplicate
            results.append(WriteResult(accepted, len(submission.events) - accepted))
        return results

    def _connect(self) -> Any:
        if self._connection is None:
            pooled = self._engine.raw_connection()
            connection = pooled.driver_connection
            pooled.detach()  # ours for the thread's lifetime, never back in the pool
            self._connection = connection
        return self._connection

    def _disconnect(self) -> None:
        if self._connection is not None:
            # Already broken is fine: a new connection is opened next time.
            with contextlib.suppress(Exception):
                self._connection.close()
            self._connection = None


def _rollback(connection: Any) -> None:
    try:
        if isinstance(connection, sqlite3.Connection):
            if connection.in_transaction:
                connection.execute("ROLLBACK")
        else:
            connection.rollback()
    except Exception:  # noqa: S110  (the connection is discarded right after)
        pass


def _wrap(exc: BaseException) -> BaseException:
    if isinstance(exc, StorageError):
        return exc
    if isinstance(exc, sqlite3.OperationalError | psycopg.OperationalError):
        return StorageUnavailable(f"database unavailable: {exc}")
    if isinstance(exc, sqlite3.DatabaseError | psycopg.DatabaseError):
        return StorageError(f"database error: {exc.__class__.__name__}: {exc}")
    return StorageError(f"writer failed: {exc.__class__.__name__}: {exc}")


def _resolve(answers: list[tuple[asyncio.Future[WriteResult], Any]]) -> None:
    for future, outcome in answers:
        if future.done():
            continue  # the request was cancelled; its rows are committed all the same
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
