"""One translation of driver errors, whichever connection they came from."""

import sqlite3

import psycopg
import psycopg.errors
import pytest
from sqlalchemy import exc as sa

from storage.errors import (
    DuplicateKey,
    LockTimeout,
    StorageError,
    StorageUnavailable,
    translate,
)


def wrapped(kind: type[sa.DBAPIError], cause: Exception) -> sa.DBAPIError:
    return kind("INSERT …", {}, cause)


@pytest.mark.parametrize(
    ("error", "kind", "message"),
    [
        # SQLAlchemy's, from storage.engine's connections.
        (
            wrapped(sa.OperationalError, sqlite3.OperationalError("database is locked")),
            StorageUnavailable,
            "database unavailable: database is locked",
        ),
        (
            wrapped(sa.IntegrityError, sqlite3.IntegrityError("UNIQUE constraint failed")),
            DuplicateKey,
            "already stored: UNIQUE constraint failed",
        ),
        (
            wrapped(sa.ProgrammingError, sqlite3.ProgrammingError("bad")),
            StorageError,
            "database error: ProgrammingError: ",
        ),
        # The drivers' own, from the writer's connection.
        (
            psycopg.errors.UndefinedTable('relation "events" does not exist'),
            StorageUnavailable,
            "schema missing",
        ),
        (
            sqlite3.OperationalError("no such table: events"),
            StorageUnavailable,
            "database unavailable: no such table: events",
        ),
        (
            psycopg.OperationalError("connection refused"),
            StorageUnavailable,
            "database unavailable: connection refused",
        ),
        (
            sqlite3.IntegrityError("NOT NULL constraint failed"),
            StorageError,
            "database error: IntegrityError: NOT NULL",
        ),
        (
            psycopg.errors.NotNullViolation("null value"),
            StorageError,
            "database error: NotNullViolation: null value",
        ),
    ],
)
def test_driver_errors_become_storage_errors(
    error: Exception, kind: type[StorageError], message: str
) -> None:
    translated = translate(error)
    assert type(translated) is kind
    assert str(translated).startswith(message)


def test_storage_errors_stay_and_other_errors_are_not_storage_errors() -> None:
    timeout = LockTimeout("held")
    assert translate(timeout) is timeout
    assert translate(ValueError("a bug")) is None
