from pathlib import Path

import pytest
from sqlalchemy import text

from storage import engine as engine_module
from storage.engine import SqliteSynchronous, database_url, make_engine
from storage.errors import InvalidDatabaseURL


def test_plain_sqlite_url_gets_the_sqlite_driver() -> None:
    url = database_url("sqlite:///data/flowtrack.db")
    assert url.drivername == "sqlite+pysqlite"
    assert url.database == "data/flowtrack.db"


@pytest.mark.parametrize("raw", ["postgresql://user@host:5432/db", "postgres://user@host:5432/db"])
def test_plain_postgres_urls_get_the_psycopg_driver(raw: str) -> None:
    url = database_url(raw)
    assert url.drivername == "postgresql+psycopg"
    assert (url.host, url.port, url.database, url.username) == ("host", 5432, "db", "user")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("sqlite://", "needs a file path"),
        ("sqlite:///:memory:", "needs a file path"),
        ("mysql://root@localhost/db", "unsupported database 'mysql'"),
        ("postgresql://user@host:5432", "names no database"),
        ("not a url", "not a database URL"),
    ],
)
def test_unusable_urls_are_rejected_with_the_reason(raw: str, message: str) -> None:
    with pytest.raises(InvalidDatabaseURL, match=message):
        database_url(raw)


def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}", sqlite_synchronous="full")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 5000
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
        assert connection.execute(text("PRAGMA wal_autocheckpoint")).scalar() == 1000
    engine.dispose()


def test_sqlite_commits_can_leave_checkpoints_to_a_checkpointer(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}", sqlite_wal_autocheckpoint=0)
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA wal_autocheckpoint")).scalar() == 0
    engine.dispose()


def test_sqlite_transactions_roll_back(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
    with engine.connect() as connection:
        connection.execute(text("INSERT INTO t VALUES (1)"))
        connection.rollback()
        assert connection.execute(text("SELECT count(*) FROM t")).scalar() == 0
    engine.dispose()


@pytest.mark.parametrize(("synchronous", "fullfsync"), [("full", 1), ("normal", 0)])
def test_full_synchronous_on_macos_also_sets_fullfsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, synchronous: SqliteSynchronous, fullfsync: int
) -> None:
    monkeypatch.setattr(engine_module, "_fsync_is_not_enough", lambda: True)
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}", sqlite_synchronous=synchronous)
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA fullfsync")).scalar() == fullfsync
    engine.dispose()


def test_fullfsync_stays_off_where_fsync_reaches_the_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "_fsync_is_not_enough", lambda: False)
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}", sqlite_synchronous="full")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA fullfsync")).scalar() == 0
    engine.dispose()


def test_only_macos_needs_fullfsync(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_module.sys, "platform", "darwin")
    assert engine_module._fsync_is_not_enough()
    monkeypatch.setattr(engine_module.sys, "platform", "linux")
    assert not engine_module._fsync_is_not_enough()
