"""How the writer stores a batch on SQLite: one autocommitted statement wherever possible."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from storage.columns import sqlite_datetime
from storage.records import DEAD_LETTER_COLUMNS, EVENT_COLUMNS, DeadLetterRecord, EventRecord

# The statements (S608) are built from the column constants, never from input.


class SqliteDialect:
    """One autocommitted statement per batch wherever possible.

    Every step into SQLite releases the GIL and must win it back from a busy event loop,
    which can take a whole switch interval; so the common case (one chunk of events, no
    duplicates) is a single step that inserts and commits. Duplicates are found after the
    fact: one INSERT statement holds the write lock throughout, so the rows it added have
    consecutive rowids ending at ``lastrowid``, and stored keys below that range are the
    duplicates.
    """

    # SQLite allows 32,766 bound parameters per statement.
    chunk = 32766 // len(EVENT_COLUMNS)
    _row = "(" + ",".join("?" * len(EVENT_COLUMNS)) + ")"
    _prefix = f"INSERT INTO events ({','.join(EVENT_COLUMNS)}) VALUES "  # noqa: S608
    _suffix = " ON CONFLICT (dedupe_key) DO NOTHING"
    _dead = (
        f"INSERT INTO dead_letters ({','.join(DEAD_LETTER_COLUMNS)}) "  # noqa: S608
        f"VALUES ({','.join('?' * len(DEAD_LETTER_COLUMNS))})"
    )

    def __init__(self, *, checkpoints: bool) -> None:
        self._checkpoints = checkpoints
        self._statements: dict[int, str] = {}

    def connected(self, connection: Any) -> None:
        if self._checkpoints:
            # Never inside a commit: the WalCheckpointer copies the log back instead.
            connection.execute("PRAGMA wal_autocheckpoint=0")

    def store(
        self,
        connection: Any,
        rows: list[EventRecord],
        dead_letters: list[DeadLetterRecord],
        after: Callable[[Any, set[bytes], list[int]], None] | None = None,
    ) -> set[bytes]:
        chunks = [rows[start : start + self.chunk] for start in range(0, len(rows), self.chunk)]
        explicit = len(chunks) + bool(dead_letters) > 1 or after is not None
        cursor = connection.cursor()
        try:
            if explicit:
                cursor.execute("BEGIN IMMEDIATE")
            inserted: set[bytes] = set()
            for part in chunks:
                inserted |= self._insert(cursor, part)
            letters = [(sqlite_datetime(row[0]), *row[1:]) for row in dead_letters]
            if after is not None:
                # The outbox names each dead letter: one statement each (they are rare).
                ids = [cursor.execute(self._dead, letter).lastrowid for letter in letters]
                after(cursor, inserted, ids)
            elif letters:
                cursor.executemany(self._dead, letters)
            if explicit:
                cursor.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        finally:
            cursor.close()
        return inserted

    def _insert(self, cursor: Any, part: list[EventRecord]) -> set[bytes]:
        params: list[Any] = []
        for row in part:
            params.extend(row[:3])
            params.append(sqlite_datetime(row[3]))
            params.append(sqlite_datetime(row[4]))
            params.extend(row[5:])
        cursor.execute(self._statement(len(part)), params)
        added = cursor.rowcount
        keys = {row.dedupe_key for row in part}
        if added == len(part):
            return keys
        first = cursor.lastrowid - added + 1 if added else None
        placeholders = ",".join("?" * len(keys))
        query = f"SELECT dedupe_key FROM events WHERE dedupe_key IN ({placeholders})"  # noqa: S608
        if first is not None:
            query += f" AND id < {int(first)}"
        existing = {key for (key,) in cursor.execute(query, list(keys))}
        return keys - existing

    def _statement(self, count: int) -> str:
        statement = self._statements.get(count)
        if statement is None:
            statement = self._prefix + ",".join([self._row] * count) + self._suffix
            self._statements[count] = statement
        return statement
