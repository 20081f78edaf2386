"""Schema migrations: Alembic is the only way flowtrack's schema is created or changed."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from storage.errors import SchemaNotReady, StorageUnavailable
from storage.store import Store


def _script_location() -> Path:
    here = Path(__file__).resolve().parent
    # Installed wheels carry the scripts inside the package; a source checkout keeps
    # them at the top level, next to the packages.
    for candidate in (here / "alembic", here.parent / "alembic"):
        if (candidate / "env.py").is_file():
            return candidate
    raise SchemaNotReady(f"migration scripts not found next to {here}")


def alembic_config(engine: Engine) -> Config:
    """An Alembic config that runs on ``engine`` (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(_script_location()))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to ``revision`` (default: the newest)."""
    try:
        command.upgrade(alembic_config(engine), revision)
    except SQLAlchemyError as exc:
        raise StorageUnavailable(f"migration failed: {exc.__class__.__name__}: {exc}") from exc


def head_revision() -> str:
    """The newest migration revision shipped with this code."""
    script = ScriptDirectory(str(_script_location()))
    head = script.get_current_head()
    if head is None:
        raise SchemaNotReady("no migrations found")
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as exc:
        raise StorageUnavailable(f"database unreachable: {exc.__class__.__name__}") from exc


def check_ready(engine: Engine) -> str:
    """Return the current revision, or raise if the database is down or not migrated."""
    current = current_revision(engine)
    head = head_revision()
    if current != head:
        raise SchemaNotReady(
            f"database is at migration {current or 'none'}, code expects {head}: "
            "run `flowtrack migrate`"
        )
    return current


class SchemaStore(Store):
    """The schema's readiness, for async callers (checked in a worker thread)."""

    async def check_ready(self) -> str:
        """The current revision; raises when the database is down or not migrated."""
        return await self._run(check_ready)
