"""data action runs (#13): one row per run, its attempts and cache origin kept on it
(the result cache is the runs table itself; contracts are cached in memory)

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'action_runs',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('action_id', sa.String(length=255), nullable=False),
        sa.Column('action_version', sa.Integer(), nullable=True),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('failure_reason', sa.String(length=32), nullable=True),
        sa.Column('input', sa.Text(), nullable=False),
        sa.Column('output', sa.Text(), nullable=True),
        sa.Column('output_problems', sa.Text(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('coercions', sa.Text(), nullable=True),
        sa.Column('steps', sa.Text(), nullable=True),
        sa.Column('dry_run', sa.Boolean(), nullable=False),
        sa.Column('idempotent', sa.Boolean(), nullable=False),
        sa.Column('timeout_seconds', sa.Integer(), nullable=True),
        sa.Column('cache_ttl_seconds', sa.Integer(), nullable=True),
        sa.Column('cache_key', sa.String(length=64), nullable=True),
        sa.Column('cached_from', sa.String(length=64), nullable=True),
        sa.Column('idempotency_key', sa.String(length=255), nullable=True),
        sa.Column('request_fingerprint', sa.String(length=64), nullable=True),
        sa.Column('requested_by', sa.String(length=100), nullable=True),
        sa.Column('attempts', sa.Text(), nullable=False),
        sa.Column('correlation_id', sa.String(length=128), nullable=True),
        sa.Column('latency_ms', sa.Float(), nullable=True),
        sa.Column('claimed_by', sa.String(length=128), nullable=True),
        sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_action_runs')),
        sa.UniqueConstraint('idempotency_key', name=op.f('uq_action_runs_idempotency_key')),
    )
    op.create_index('ix_action_runs_state_created', 'action_runs', ['state', 'created_at'])
    op.create_index('ix_action_runs_created', 'action_runs', ['created_at', 'id'])
    op.create_index(
        'ix_action_runs_action_created', 'action_runs', ['action_id', 'created_at']
    )
    op.create_index(
        'ix_action_runs_cache_key',
        'action_runs',
        ['cache_key', 'finished_at'],
        sqlite_where=sa.text('cache_key IS NOT NULL'),
        postgresql_where=sa.text('cache_key IS NOT NULL'),
    )


def downgrade() -> None:
    op.drop_index('ix_action_runs_cache_key', table_name='action_runs')
    op.drop_index('ix_action_runs_action_created', table_name='action_runs')
    op.drop_index('ix_action_runs_created', table_name='action_runs')
    op.drop_index('ix_action_runs_state_created', table_name='action_runs')
    op.drop_table('action_runs')
