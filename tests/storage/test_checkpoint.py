import asyncio
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text

from storage.checkpoint import WalCheckpointer
from storage.engine import make_engine
from storage.tables import Event
from storage.writer import EventWriter
from tests.storage.test_writer import record

PAGE = 4096


def copy_of(template: Path, directory: Path) -> Path:
    directory.mkdir()
    path = directory / "flowtrack.db"
    shutil.copyfile(template, path)
    return path


@pytest.fixture
def database(tmp_path: Path, sqlite_template: Path) -> Path:
    return copy_of(sqlite_template, tmp_path / "db")


@pytest.fixture
def engine(database: Path) -> Iterator[Engine]:
    # As in the app: no connection checkpoints inside its commits.
    engine = make_engine(f"sqlite:///{database}", sqlite_wal_autocheckpoint=0)
    yield engine
    engine.dispose()


def wal_pages(database: Path) -> int:
    """How big the log file grew: a log that starts over is overwritten from the front."""
    wal = database.with_name(database.name + "-wal")
    return wal.stat().st_size // PAGE if wal.exists() else 0


async def write_under_load(
    engine: Engine, database: Path, *, checkpointer: bool
) -> tuple[int, WalCheckpointer | None]:
    """Store 2,000 events; return how big the log grew, and the writer's checkpointer."""
    writer = EventWriter(engine, checkpoints=checkpointer, checkpoint_rows=200)
    writer.start()
    try:
        for batch in range(40):
            # Concurrent requests, as under load: they share commits.
            await asyncio.gather(
                *(writer.write([record(f"{batch}-{n}", conversation=f"c-{n}")]) for n in range(50))
            )
        with engine.connect() as connection:
            assert connection.execute(select(func.count()).select_from(Event)).scalar() == 2000
            # Measured while connections are open: the last one to close removes the log.
            pages = wal_pages(database)
    finally:
        writer.close()
    return pages, writer._checkpointer


async def test_log_starts_over_while_the_writer_keeps_committing(
    engine: Engine, database: Path, tmp_path: Path, sqlite_template: Path
) -> None:
    pages, checkpointer = await write_under_load(engine, database, checkpointer=True)
    assert checkpointer is not None
    assert checkpointer.checkpoints > 0
    assert checkpointer.finished > 0
    # The control: the same writes with nobody checkpointing keep every frame in the log.
    control = copy_of(sqlite_template, tmp_path / "control")
    control_engine = make_engine(f"sqlite:///{control}", sqlite_wal_autocheckpoint=0)
    try:
        control_pages, _ = await write_under_load(control_engine, control, checkpointer=False)
        assert pages * 3 < control_pages, (pages, control_pages)
    finally:
        control_engine.dispose()


def test_checkpointer_copies_back_writes_that_bypass_the_writer(
    engine: Engine, database: Path
) -> None:
    checkpointer = WalCheckpointer(engine, interval=0.05)
    checkpointer.start()
    try:
        before = database.stat().st_size
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE bulk (body TEXT)"))
            connection.execute(
                text("INSERT INTO bulk VALUES (:body)"),
                [{"body": "x" * 1000} for _ in range(2000)],
            )
        # The database file grows only when a checkpoint copies pages into it.
        deadline = time.monotonic() + 10
        while database.stat().st_size < before + 1_000_000:
            assert time.monotonic() < deadline, "nothing was copied back into the database"
            time.sleep(0.05)
    finally:
        checkpointer.close()
    assert checkpointer.checkpoints > 0


def test_writer_connection_never_checkpoints_inside_a_commit(engine: Engine) -> None:
    # An engine whose connections do checkpoint: the writer's own must not.
    default = make_engine(engine.url)
    writer = EventWriter(default, checkpoints=True)
    connection = writer._connect()
    try:
        assert connection.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
    finally:
        writer._disconnect()
        default.dispose()
