"""How the writer stores a batch on PostgreSQL: the whole batch as one JSONB parameter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from storage.records import DEAD_LETTER_COLUMNS, EVENT_COLUMNS, DeadLetterRecord, EventRecord

# The statements (S608) are built from the column constants, never from input.


def _postgres_field(index: int, name: str) -> str:
    """Column ``name`` of an event row sent as the JSONB array ``e``."""
    if name == "dedupe_key":
        return f"decode(e->>{index}, 'hex')"
    if name in ("occurred_at", "received_at"):
        return f"(e->>{index})::timestamptz"
    return f"e->>{index}"


class PostgresDialect:
    """The whole batch as one JSONB parameter of one autocommitted INSERT … SELECT.

    One statement is one round trip, and every round trip costs the writer a wait for
    the GIL that the busy event loop holds: COPY into a staging table, INSERT from it and
    COMMIT took four. orjson encodes the batch in C, so the writer holds the GIL only
    briefly, and PostgreSQL reads each JSONB element's fields by position cheaply.
    Measured in isolation, 32 rows took 0.9 ms against 1.6 ms with COPY (README).
    """

    _columns = ",".join(EVENT_COLUMNS)
    _fields = ",".join(_postgres_field(index, name) for index, name in enumerate(EVENT_COLUMNS))
    _insert = (
        f"INSERT INTO events ({_columns}) SELECT {_fields} "  # noqa: S608
        "FROM jsonb_array_elements(%s::jsonb) AS e "
        "ON CONFLICT (dedupe_key) DO NOTHING RETURNING dedupe_key"
    )
    _dead = (
        f"INSERT INTO dead_letters ({','.join(DEAD_LETTER_COLUMNS)}) "  # noqa: S608
        f"VALUES ({','.join(['%s'] * len(DEAD_LETTER_COLUMNS))})"
    )

    def connected(self, connection: Any) -> None:
        # Each statement commits on its own; a batch with dead letters opens a transaction.
        connection.autocommit = True

    def store(
        self,
        connection: Any,
        rows: list[EventRecord],
        dead_letters: list[DeadLetterRecord],
        after: Callable[[Any, set[bytes], list[int]], None] | None = None,
    ) -> set[bytes]:
        with connection.cursor() as cursor:
            if not dead_letters and after is None:
                return self._insert_events(cursor, rows)
            with connection.transaction():
                inserted = self._insert_events(cursor, rows)
                if after is None:
                    cursor.executemany(self._dead, dead_letters)
                else:
                    # The outbox names each dead letter: one statement each (they are rare).
                    ids = []
                    for letter in dead_letters:
                        cursor.execute(self._dead + " RETURNING id", letter)
                        ids.append(int(cursor.fetchone()[0]))
                    after(cursor, inserted, ids)
            return inserted

    def _insert_events(self, cursor: Any, rows: list[EventRecord]) -> set[bytes]:
        if not rows:
            return set()
        document = orjson.dumps(
            [(row[0].hex(), *row[1:]) for row in rows], option=orjson.OPT_NAIVE_UTC
        )
        cursor.execute(self._insert, (document.decode(),), prepare=True)
        return {bytes(key) for (key,) in cursor.fetchall()}
