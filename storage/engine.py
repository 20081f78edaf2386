"""Engine setup for the two supported databases: SQLite (embedded) and PostgreSQL.

Users write plain URLs (``sqlite:///path/file.db``, ``postgresql://user@host/db``);
:func:`database_url` turns them into the driver-qualified form SQLAlchemy needs.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from storage.errors import InvalidDatabaseURL, translate

DEFAULT_DATABASE_URL = "sqlite:///flowtrack.db"

SqliteSynchronous = Literal["full", "normal"]


def database_url(raw: str) -> URL:
    """Parse a user-written database URL into a driver-qualified SQLAlchemy URL."""
    text = raw.strip()
    if text.startswith("postgres://"):  # the form many hosting platforms hand out
        text = "postgresql://" + text.removeprefix("postgres://")
    try:
        url = make_url(text)
    except ArgumentError as exc:
        raise InvalidDatabaseURL(f"not a database URL: {raw!r}") from exc
    backend = url.get_backend_name()
    if backend == "sqlite":
        if not url.database or url.database == ":memory:":
            raise InvalidDatabaseURL(
                "SQLite needs a file path (sqlite:///path/file.db); in-memory databases "
                "cannot be shared by the writer and the readers"
            )
        return url.set(drivername="sqlite+pysqlite")
    if backend == "postgresql":
        if not url.database:
            raise InvalidDatabaseURL("PostgreSQL URL names no database: add /dbname")
        return url.set(drivername="postgresql+psycopg")
    raise InvalidDatabaseURL(
        f"unsupported database {backend!r}: use sqlite:///path/file.db or "
        "postgresql://user@host:5432/db"
    )


def make_engine(
    url: URL | str,
    *,
    sqlite_synchronous: SqliteSynchronous = "full",
    sqlite_busy_timeout_ms: int = 5000,
    sqlite_wal_autocheckpoint: int = 1000,
    pool_size: int = 10,
) -> Engine:
    """Create the engine, with the per-connection settings each database needs.

    SQLite: WAL (readers never block the writer), foreign keys, a busy timeout, and
    ``synchronous`` FULL by default so that a commit survives power loss, not just a
    crash (on macOS FULL also sets ``fullfsync``: its plain fsync does not reach the
    disk). Transactions are begun explicitly because pysqlite's implicit BEGIN would
    otherwise delay locking until the first write. ``sqlite_wal_autocheckpoint`` 0 keeps
    commits from checkpointing, for a process whose writer runs a
    ``storage.checkpoint.WalCheckpointer``.
    """
    if isinstance(url, str):
        url = database_url(url)
    if url.get_backend_name() == "sqlite":
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": sqlite_busy_timeout_ms / 1000},
            pool_size=pool_size,
            max_overflow=pool_size,
        )
        _configure_sqlite(
            engine, sqlite_synchronous, sqlite_busy_timeout_ms, sqlite_wal_autocheckpoint
        )
        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=pool_size,
        connect_args={"connect_timeout": 5},
    )


def _configure_sqlite(
    engine: Engine, synchronous: SqliteSynchronous, busy_timeout_ms: int, wal_autocheckpoint: int
) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
        if synchronous == "full" and _fsync_is_not_enough():
            cursor.execute("PRAGMA fullfsync=ON")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute(f"PRAGMA wal_autocheckpoint={int(wal_autocheckpoint)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Writers take the lock up front: a deferred transaction that reads and then
        # writes can fail at once (no busy wait) when another writer got there first.
        immediate = connection.get_execution_options().get("flowtrack_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _fsync_is_not_enough() -> bool:
    # macOS's fsync() stops at the drive's volatile cache; only F_FULLFSYNC (SQLite's
    # fullfsync, which also covers checkpoints) makes FULL's power-loss claim hold there.
    return sys.platform == "darwin"


def dedicated_connection(engine: Engine) -> Any:
    """A driver connection (sqlite3 / psycopg) configured like the pool's, owned by the
    caller for a thread's lifetime: it never goes back to the pool."""
    pooled = engine.raw_connection()
    connection = pooled.driver_connection
    pooled.detach()
    return connection


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that will write; commits on success, rolls back on error."""
    with (
        translated_errors(),
        engine.connect().execution_options(flowtrack_write=True) as connection,
        connection.begin(),
    ):
        yield connection


@contextmanager
def read_connection(engine: Engine) -> Iterator[Connection]:
    """A connection for reads, with driver errors translated."""
    with translated_errors(), engine.connect() as connection:
        yield connection


@contextmanager
def translated_errors() -> Iterator[None]:
    """Driver errors become StorageErrors (storage.errors.translate)."""
    try:
        yield
    except SQLAlchemyError as exc:
        raise translate(exc) from exc


def is_sqlite(engine: Engine) -> bool:
    """True when the engine talks to SQLite."""
    return engine.dialect.name == "sqlite"
