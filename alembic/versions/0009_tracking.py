"""tracking without editing flows (#18): the channel lease, gaps and history pulls

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'tracking_lease',
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('holder', sa.String(length=128), nullable=False),
        sa.Column('acquired_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('status', sa.Text(), nullable=True),
        sa.Column('status_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_tracking_lease')),
    )
    op.create_table(
        'tracking_gaps',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('reason', sa.String(length=64), nullable=False),
        sa.Column('holder', sa.String(length=128), nullable=False),
        sa.Column('backfill', sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_tracking_gaps')),
    )
    op.create_index('ix_tracking_gaps_started', 'tracking_gaps', ['started_at', 'id'], unique=False)
    op.create_table(
        'history_pulls',
        sa.Column('launch_id', sa.String(length=64), nullable=False),
        sa.Column('state', sa.String(length=32), nullable=False),
        sa.Column('instance_id', sa.String(length=128), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('next_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('detail', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('launch_id', name=op.f('pk_history_pulls')),
    )
    op.create_index('ix_history_pulls_state_next', 'history_pulls', ['state', 'next_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_history_pulls_state_next', table_name='history_pulls')
    op.drop_table('history_pulls')
    op.drop_index('ix_tracking_gaps_started', table_name='tracking_gaps')
    op.drop_table('tracking_gaps')
    op.drop_table('tracking_lease')
