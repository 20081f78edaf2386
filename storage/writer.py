"""Group commit: one writer thread per process stores what every request hands it.

Requests put their rows on a queue and wait. The writer takes everything that is
waiting, stores it in one transaction, commits, and only then answers every request in
that batch. While it commits, new requests queue up and form the next batch, so the
commit cost is shared without any artificial delay (no linger). The thread uses a plain
DB-API connection and multi-row statements: no ORM objects, no per-row round trips, and
the database driver runs without the GIL while the event loop keeps serving.

How a batch becomes statements depends on the database: storage.sqlite_writer and
storage.postgres_writer each hold one :class:`Dialect`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, NamedTuple, Protocol

import anyio.to_thread
from sqlalchemy import Engine

from storage.checkpoint import WalCheckpointer
from storage.engine import dedicated_connection
from storage.errors import StorageError, StorageUnavailable, translate
from storage.outbox import WriterOutbox
from storage.postgres_writer import PostgresDialect
from storage.records import DeadLetterRecord, EventRecord, WriteResult
from storage.sqlite_writer import SqliteDialect
from storage.vocabulary import ERROR, FLOWTRACK

log = logging.getLogger("flowtrack.storage.writer")

_STOP = object()


@dataclass(slots=True)
class _Submission:
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[WriteResult]
    events: Sequence[EventRecord]
    dead_letters: Sequence[DeadLetterRecord] = field(default=())


class Batch(NamedTuple):
    """What one commit did, for whoever keeps metrics (see ``on_batch``)."""

    seconds: float
    requests: int
    events: int
    dead_letters: int
    stored: Sequence[EventRecord]


#: Called inside a batch's transaction with the cursor, the keys stored and the dead
#: letters' ids (in order): the webhook outbox's part of the batch.
OutboxHook = Callable[[Any, set[bytes], list[int]], None]


class Dialect(Protocol):
    """How one database stores a batch, on the writer's own DB-API connection."""

    def connected(self, connection: Any) -> None:
        """Set up a new connection of the writer's."""
        ...

    def store(
        self,
        connection: Any,
        rows: list[EventRecord],
        dead_letters: list[DeadLetterRecord],
        after: OutboxHook | None = None,
    ) -> set[bytes]:
        """Insert rows (ignoring stored keys) and dead letters, run ``after`` in the same
        transaction, commit; return new keys."""
        ...


class EventWriter:
    """The process's single writer for events and dead letters.

    ``await writer.write(events)`` returns only after the rows are committed, with how
    many were new and how many were already stored (duplicates, also within the batch).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        max_batch_events: int = 5000,
        on_stored: Callable[[list[EventRecord]], None] | None = None,
        on_batch: Callable[[Batch], None] | None = None,
        checkpoints: bool = False,
        checkpoint_rows: int = 5000,
    ) -> None:
        """``on_stored`` is called on the event loop with the rows each commit added.

        ``on_batch`` is called on the writer's thread after each successful commit (once
        per batch, never per event: it must be cheap and must not block).

        With ``checkpoints`` on SQLite, a :class:`~storage.checkpoint.WalCheckpointer`
        copies the log back after every ``checkpoint_rows`` stored rows (and every
        second), and the writer's connection never checkpoints inside a commit.
        """
        self._engine = engine
        self._on_stored = on_stored
        self._on_batch = on_batch
        self.failed_batches = 0
        self._max_batch_events = max_batch_events
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._connection: Any = None
        sqlite = engine.dialect.name == "sqlite"
        self._dialect: Dialect = (
            SqliteDialect(checkpoints=checkpoints) if sqlite else PostgresDialect()
        )
        self._checkpointer = (
            WalCheckpointer(engine, rows_per_checkpoint=checkpoint_rows)
            if sqlite and checkpoints
            else None
        )
        self._carry: _Submission | None = None
        self._outbox = WriterOutbox(sqlite=sqlite)
        self.batches = 0
        self.rows = 0

    def start(self) -> None:
        """Start the writer thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="flowtrack-writer", daemon=True)
            self._thread.start()
            if self._checkpointer is not None:
                self._checkpointer.start()

    def close(self, timeout: float = 30.0) -> None:
        """Finish everything already submitted, then stop the thread and disconnect."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout)
            self._thread = None
            if self._checkpointer is not None:
                self._checkpointer.close(timeout)

    async def aclose(self) -> None:
        """:meth:`close`, waited for in a worker thread (from the event loop)."""
        await anyio.to_thread.run_sync(self.close)

    @property
    def queue_depth(self) -> int:
        """Submissions waiting for the next batch (approximate, as any queue size)."""
        return self._queue.qsize()

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
        rows_before = self.rows
        try:
            stored: list[EventRecord] = []
            results: list[WriteResult] | BaseException = self._store(batch, stored)
        except BaseException as exc:  # every failure must reach the waiting requests
            self._disconnect()
            self.failed_batches += 1
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
            elapsed = time.perf_counter() - started
            if self._on_batch is not None:
                self._tell_batch(elapsed, batch, stored)
            elapsed_ms = elapsed * 1000
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
        listener = self._on_stored if not isinstance(results, BaseException) else None
        for loop, answers in by_loop.items():
            # A closed loop has nobody waiting any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_resolve, answers, listener, stored)
            listener = None  # tell it once
        if self._checkpointer is not None and not isinstance(results, BaseException):
            # After the answers are on their way: a checkpoint delays the next batch only.
            self._checkpointer.committed(self.rows - rows_before)
            self._checkpointer.finish(self._connection)

    def _tell_batch(
        self, seconds: float, batch: list[_Submission], stored: list[EventRecord]
    ) -> None:
        assert self._on_batch is not None
        events = dead_letters = 0
        for submission in batch:
            events += len(submission.events)
            dead_letters += len(submission.dead_letters)
        try:
            self._on_batch(Batch(seconds, len(batch), events, dead_letters, stored))
        except Exception:
            log.exception("batch listener failed", extra={"action": "storage.listener_failed"})

    def _store(self, batch: list[_Submission], stored: list[EventRecord]) -> list[WriteResult]:
        connection = self._connect()
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
        after = None
        if self._outbox.wanted(rows, dead_letters):
            after = partial(self._tell_outbox, rows, dead_letters)
        inserted = self._dialect.store(connection, rows, dead_letters, after)
        if self._on_stored is not None or self._on_batch is not None:
            stored.extend(row for row in rows if row.dedupe_key in inserted)
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

    def _tell_outbox(
        self,
        rows: list[EventRecord],
        dead_letters: list[DeadLetterRecord],
        cursor: Any,
        inserted: set[bytes],
        letter_ids: list[int],
    ) -> None:
        # Only errors stored now: a duplicate delivery of an error sends nothing again.
        errors = [
            row
            for row in rows
            if row[1] == ERROR and row[2] != FLOWTRACK and row.dedupe_key in inserted
        ]
        now = datetime.now(UTC)
        self._outbox.add(cursor, errors, zip(letter_ids, dead_letters, strict=True), now)

    def _connect(self) -> Any:
        if self._connection is None:
            connection = dedicated_connection(self._engine)
            self._dialect.connected(connection)
            self._connection = connection
        return self._connection

    def _disconnect(self) -> None:
        if self._connection is not None:
            # Already broken is fine: a new connection is opened next time.
            with contextlib.suppress(Exception):
                self._connection.close()
            self._connection = None


def _wrap(exc: BaseException) -> StorageError:
    """What the waiting requests are told: a driver error translated, else a bug."""
    return translate(exc) or StorageError(f"writer failed: {exc.__class__.__name__}: {exc}")


def _resolve(
    answers: list[tuple[asyncio.Future[WriteResult], Any]],
    listener: Callable[[list[EventRecord]], None] | None,
    stored: list[EventRecord],
) -> None:
    if listener is not None and stored:
        try:
            listener(stored)
        except Exception:
            log.exception("listener failed", extra={"action": "storage.listener_failed"})
    for future, outcome in answers:
        if future.done():
            continue  # the request was cancelled; its rows are committed all the same
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
