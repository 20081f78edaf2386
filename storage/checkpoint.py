"""WAL checkpoints for SQLite, kept off the writer's critical path.

In WAL mode every commit appends each page it changed to the write-ahead log, and a
checkpoint copies pages back into the database file. SQLite's automatic checkpoint runs
inside a committing transaction every 1,000 pages: the writer then stops committing
while it copies and fsyncs, and the pages every batch touches (the table's last leaf,
the time-ordered indexes' last pages) are copied back again and again.

The checkpointer copies on its own thread and connection while the writer keeps
committing, after every ``rows_per_checkpoint`` stored rows or every ``interval``
seconds. Each pass copies what was appended during the previous one, so passes shrink.
The log can only start over from its beginning once a checkpoint has copied *every*
frame, which a checkpoint racing the writer never does; so the writer finishes the few
frames left between two of its own commits (:meth:`WalCheckpointer.finish`), after which
its next commit restarts the log instead of growing it.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from typing import Any

from sqlalchemy import Engine

from storage.engine import dedicated_connection

log = logging.getLogger("flowtrack.storage.checkpoint")

_PASSIVE = "PRAGMA wal_checkpoint(PASSIVE)"


class WalCheckpointer:
    """Background WAL checkpoints for one SQLite database, finished by its writer.

    Connections that commit should run with ``wal_autocheckpoint`` off (see
    ``storage.engine.make_engine``) so that they never checkpoint inside a commit.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        rows_per_checkpoint: int = 5000,
        interval: float = 1.0,
        max_passes: int = 3,
        small_pass_frames: int = 200,
    ) -> None:
        self._engine = engine
        self._rows_per_checkpoint = rows_per_checkpoint
        self._interval = interval
        self._max_passes = max_passes
        self._small_pass_frames = small_pass_frames
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._rows = 0
        # Set by the checkpointer thread, cleared by the writer thread.
        self._finish_due = False
        self.checkpoints = 0
        self.finished = 0

    def start(self) -> None:
        """Start the checkpointer thread (idempotent)."""
        if self._thread is None:
            self._stopping = False
            self._thread = threading.Thread(
                target=self._run, name="flowtrack-checkpointer", daemon=True
            )
            self._thread.start()

    def close(self, timeout: float = 30.0) -> None:
        """Stop the thread; SQLite checkpoints the rest when the last connection closes."""
        if self._thread is not None:
            self._stopping = True
            self._wake.set()
            self._thread.join(timeout)
            self._thread = None

    def committed(self, rows: int) -> None:
        """Called by the writer after each commit: wakes the thread every so many rows."""
        self._rows += rows
        if self._rows >= self._rows_per_checkpoint:
            self._rows = 0
            self._wake.set()

    def finish(self, connection: Any) -> None:
        """Called by the writer between commits: copy the frames the thread could not.

        Nothing else is appending while the writer is here, so this checkpoint copies
        the whole log, and the writer's next commit starts the log over.
        """
        if not self._finish_due:
            return
        self._finish_due = False
        try:
            _checkpoint(connection)
        except sqlite3.Error as exc:
            log.warning(
                "checkpoint failed",
                extra={"action": "storage.checkpoint_failed", "error": str(exc)},
            )
            return
        self.finished += 1

    def _run(self) -> None:
        connection: Any = None
        while True:
            self._wake.wait(self._interval)
            self._wake.clear()
            if self._stopping:
                break
            try:
                if connection is None:
                    connection = dedicated_connection(self._engine)
                if self._backfill(connection):
                    self._finish_due = True
            except sqlite3.Error as exc:
                # The next wake-up tries again on a new connection; commits are unaffected.
                log.warning(
                    "checkpoint failed",
                    extra={"action": "storage.checkpoint_failed", "error": str(exc)},
                )
                _close(connection)
                connection = None
        _close(connection)

    def _backfill(self, connection: Any) -> bool:
        """Copy the log back in passes; return whether it held anything."""
        previous = 0
        frames = 0
        for _ in range(self._max_passes):
            busy, frames, _copied = _checkpoint(connection)
            self.checkpoints += 1
            # A log that started over since the previous pass holds only new frames.
            new = frames - previous if frames >= previous else frames
            previous = frames
            if busy or new <= self._small_pass_frames:
                break
        return frames > 0


def _checkpoint(connection: Any) -> tuple[int, int, int]:
    # fetchall, not fetchone: an unfinished statement would keep a read snapshot open,
    # and the log cannot start over while any reader holds one.
    ((busy, frames, copied),) = connection.execute(_PASSIVE).fetchall()
    return int(busy), int(frames), int(copied)


def _close(connection: Any) -> None:
    if connection is not None:
        with contextlib.suppress(Exception):
            connection.close()
