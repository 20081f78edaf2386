"""The exceptions of the storage package, and the one place driver errors become them.

Driver errors never leave this package raw: :func:`translate` turns them into these
types at the boundary (the SQLAlchemy connections of storage.engine, the writer's own
DB-API connection), so callers can tell "the database is down, retry later" from a bug::

    StorageError                 anything storage raises
    ├── StorageUnavailable       transient: unreachable, busy, locked, schema missing
    ├── DuplicateKey             a row with the same unique key is already stored
    ├── SchemaNotReady           the schema is missing or behind the newest migration
    ├── InvalidDatabaseURL       FLOWTRACK_DATABASE_URL is not a URL flowtrack understands
    └── LockTimeout              another process held a database lock for too long
"""

from __future__ import annotations

import sqlite3
from typing import overload

import psycopg
import psycopg.errors
from sqlalchemy import exc as sa


class StorageError(Exception):
    """Base of every error raised by ``storage``."""


class StorageUnavailable(StorageError):
    """The database cannot be reached or refused the work for a transient reason."""


class DuplicateKey(StorageError):
    """A row with the same unique key is already stored."""


class SchemaNotReady(StorageError):
    """The database schema is missing or behind the newest migration."""


class InvalidDatabaseURL(StorageError):
    """``FLOWTRACK_DATABASE_URL`` is not a SQLite or PostgreSQL URL flowtrack understands."""


class LockTimeout(StorageError):
    """Another process held a database lock for longer than the caller would wait."""


@overload
def translate(exc: sa.SQLAlchemyError | StorageError) -> StorageError: ...
@overload
def translate(exc: BaseException) -> StorageError | None: ...
def translate(exc: BaseException) -> StorageError | None:
    """The StorageError that ``exc`` stands for; None when it is no database error.

    SQLAlchemy's errors (from storage.engine's connections) wrap the driver's:

    - ``OperationalError`` → :class:`StorageUnavailable`;
    - ``IntegrityError`` → :class:`DuplicateKey`;
    - any other → :class:`StorageError`.

    The driver's own errors (sqlite3, psycopg; from the writer's DB-API connection):

    - PostgreSQL's undefined table → :class:`StorageUnavailable` (run the migrations);
    - ``OperationalError`` → :class:`StorageUnavailable`;
    - any other database error → :class:`StorageError`.

    A StorageError is returned as it is.
    """
    if isinstance(exc, StorageError):
        return exc
    if isinstance(exc, sa.OperationalError):
        return StorageUnavailable(f"database unavailable: {exc.orig}")
    if isinstance(exc, sa.IntegrityError):
        return DuplicateKey(f"already stored: {exc.orig}")
    if isinstance(exc, sa.SQLAlchemyError):
        return StorageError(f"database error: {exc.__class__.__name__}: {exc}")
    if isinstance(exc, psycopg.errors.UndefinedTable):
        return StorageUnavailable(f"schema missing ({exc}): run `flowtrack migrate`")
    if isinstance(exc, sqlite3.OperationalError | psycopg.OperationalError):
        return StorageUnavailable(f"database unavailable: {exc}")
    if isinstance(exc, sqlite3.DatabaseError | psycopg.DatabaseError):
        return StorageError(f"database error: {exc.__class__.__name__}: {exc}")
    return None
