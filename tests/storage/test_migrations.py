import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

from storage.engine import make_engine
from storage.errors import SchemaNotReady
from storage.migrations import (
    alembic_config,
    check_ready,
    current_revision,
    head_revision,
    upgrade,
)


def test_migrations_create_exactly_the_schema_the_models_describe(empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    upgrade(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        drift = compare_metadata(context, SQLModel.metadata)
    engine.dispose()
    assert drift == []


def test_migrations_create_the_history_indexes(empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    upgrade(engine)
    indexes = {index["name"] for index in inspect(engine).get_indexes("events")}
    engine.dispose()
    assert {
        "ix_events_conversation",
        "ix_events_execution",
        "ix_events_launch",
        "ix_events_flow",
        "ix_events_occurred_at",
    } <= indexes


def test_upgrading_twice_is_harmless(empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    upgrade(engine)
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_an_unmigrated_database_is_not_ready(empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    with pytest.raises(SchemaNotReady, match="run `flowtrack migrate`"):
        check_ready(engine)
    engine.dispose()


def test_a_migrated_database_is_ready(database_url: str) -> None:
    engine = make_engine(database_url)
    assert check_ready(engine) == head_revision()
    engine.dispose()


def test_the_audit_migration_upgrades_and_downgrades(empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    upgrade(engine, "0004")
    upgrade(engine)
    assert "audit" in inspect(engine).get_table_names()
    assert "request_fingerprint" in {c["name"] for c in inspect(engine).get_columns("launches")}
    command.downgrade(alembic_config(engine), "0004")
    assert "audit" not in inspect(engine).get_table_names()
    assert "request_fingerprint" not in {c["name"] for c in inspect(engine).get_columns("launches")}
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    engine.dispose()
