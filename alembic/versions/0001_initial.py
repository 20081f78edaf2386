"""events, dead letters, launches

Revision ID: 0001
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dead_letters",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("errors", sa.Text(), nullable=False),
        sa.Column("webhook_id", sa.String(length=255), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
    )
    op.create_index(
        op.f("ix_dead_letters_received_at"), "dead_letters", ["received_at"], unique=False
    )

    op.create_table(
        "events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("dedupe_key", sa.LargeBinary(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("launch_id", sa.String(length=128), nullable=True),
        sa.Column("flow_execution_id", sa.String(length=128), nullable=True),
        sa.Column("conversation_id", sa.String(length=128), nullable=True),
        sa.Column("flow_id", sa.String(length=128), nullable=True),
        sa.Column("flow_version", sa.String(length=64), nullable=True),
        sa.Column("node_id", sa.String(length=255), nullable=True),
        sa.Column("node_type", sa.String(length=255), nullable=True),
        sa.Column("node_name", sa.String(length=255), nullable=True),
        sa.Column("output_path", sa.String(length=255), nullable=True),
        sa.Column("outcome", sa.String(length=64), nullable=True),
        sa.Column("error_code", sa.String(length=255), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_events_dedupe_key")),
    )
    op.create_index(
        "ix_events_conversation",
        "events",
        ["conversation_id", "occurred_at", "id"],
        unique=False,
        sqlite_where=sa.text("conversation_id IS NOT NULL"),
        postgresql_where=sa.text("conversation_id IS NOT NULL"),
    )
    op.create_index(
        "ix_events_execution",
        "events",
        ["flow_execution_id", "occurred_at", "id"],
        unique=False,
        sqlite_where=sa.text("flow_execution_id IS NOT NULL"),
        postgresql_where=sa.text("flow_execution_id IS NOT NULL"),
    )
    op.create_index(
        "ix_events_flow",
        "events",
        ["flow_id", "occurred_at", "id"],
        unique=False,
        sqlite_where=sa.text("flow_id IS NOT NULL"),
        postgresql_where=sa.text("flow_id IS NOT NULL"),
    )
    op.create_index(
        "ix_events_launch",
        "events",
        ["launch_id", "occurred_at", "id"],
        unique=False,
        sqlite_where=sa.text("launch_id IS NOT NULL"),
        postgresql_where=sa.text("launch_id IS NOT NULL"),
    )
    op.create_index("ix_events_occurred_at", "events", ["occurred_at", "id"], unique=False)

    op.create_table(
        "launches",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("flow_id", sa.String(length=128), nullable=False),
        sa.Column("flow_version", sa.String(length=64), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("flow_execution_id", sa.String(length=128), nullable=True),
        sa.Column("conversation_id", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_launches")),
        sa.UniqueConstraint("flow_execution_id", name=op.f("uq_launches_flow_execution_id")),
    )
    op.create_index(
        "ix_launches_conversation",
        "launches",
        ["conversation_id"],
        unique=False,
        sqlite_where=sa.text("conversation_id IS NOT NULL"),
        postgresql_where=sa.text("conversation_id IS NOT NULL"),
    )
    op.create_index("ix_launches_state_created", "launches", ["state", "created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_launches_state_created", table_name="launches")
    op.drop_index("ix_launches_conversation", table_name="launches")

    op.drop_table("launches")
    op.drop_index("ix_events_occurred_at", table_name="events")
    op.drop_index("ix_events_launch", table_name="events")
    op.drop_index("ix_events_flow", table_name="events")
    op.drop_index("ix_events_execution", table_name="events")
    op.drop_index("ix_events_conversation", table_name="events")

    op.drop_table("events")
    op.drop_index("ix_dead_letters_received_at", table_name="dead_letters")

    op.drop_table("dead_letters")
