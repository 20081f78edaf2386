"""Alembic environment: runs migrations on the engine flowtrack hands over.

``flowtrack migrate`` (storage.migrations.upgrade) passes the engine in
``config.attributes``; running plain ``alembic`` is not supported on purpose, so there is
one way to reach a database.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine, text
from sqlmodel import SQLModel

import storage.tables  # noqa: F401  (registers the tables on SQLModel.metadata)

# Any 64-bit constant: serialises concurrent `flowtrack migrate` runs on PostgreSQL.
_MIGRATION_LOCK = 0x666C6F77747261

engine = context.config.attributes.get("engine")
if not isinstance(engine, Engine):
    raise RuntimeError("run migrations with `flowtrack migrate`")

with engine.connect() as connection:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _MIGRATION_LOCK})
        connection.commit()
    try:
        context.configure(
            connection=connection,
            target_metadata=SQLModel.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
    finally:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _MIGRATION_LOCK})
            connection.commit()
