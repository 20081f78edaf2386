"""incremental rollups (#15): per flow, node and bucket statistics and their watermark

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _key(name: str, length: int = 128) -> sa.Column:
    return sa.Column(name, sa.String(length=length), nullable=False)


def _count(name: str) -> sa.Column:
    return sa.Column(name, sa.BigInteger(), server_default='0', nullable=False)


def _bucketed(name: str, *columns: sa.Column, key: Sequence[str]) -> None:
    op.create_table(
        name,
        _key('flow_id'),
        sa.Column('grain', sa.String(length=1), nullable=False),
        sa.Column('bucket', sa.BigInteger(), autoincrement=False, nullable=False),
        *columns,
        sa.PrimaryKeyConstraint('flow_id', 'grain', 'bucket', *key, name=op.f(f'pk_{name}')),
    )


def upgrade() -> None:
    state = op.create_table(
        'rollup_state',
        _key('name', 32),
        sa.Column('version', sa.BigInteger(), nullable=False),
        sa.Column('position', sa.BigInteger(), nullable=False),
        sa.Column('gaps', sa.Text(), nullable=False),
        sa.Column('launches_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('advanced_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_rollup_state')),
    )
    # The rollups start before the first event: the job takes every stored event in
    # turn (on an existing database, that is the rebuild).
    op.bulk_insert(state, [{'name': 'events', 'version': 0, 'position': 0, 'gaps': '{}'}])
    op.create_table(
        'rollup_runs',
        _key('flow_id'),
        _key('run_key', 160),
        sa.Column('last_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('facts', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('flow_id', 'run_key', name=op.f('pk_rollup_runs')),
    )
    op.create_index('ix_rollup_runs_last_at', 'rollup_runs', ['last_at'], unique=False)
    _bucketed(
        'rollup_nodes',
        _key('node_id', 255),
        *(_count(name) for name in ('entries', 'exits', 'errors', 'open_visits', 'runs', 'events')),
        key=['node_id'],
    )
    _bucketed(
        'rollup_durations',
        _key('node_id', 255),
        sa.Column('bin', sa.Integer(), autoincrement=False, nullable=False),
        _count('visits'),
        key=['node_id', 'bin'],
    )
    _bucketed(
        'rollup_edges',
        _key('from_node_id', 255),
        _key('to_node_id', 255),
        _count('transitions'),
        key=['from_node_id', 'to_node_id'],
    )
    _bucketed(
        'rollup_paths',
        _key('path_key', 32),
        sa.Column('path', sa.Text(), nullable=False),
        _count('runs'),
        key=['path_key'],
    )
    _bucketed(
        'rollup_launches',
        _key('state', 32),
        _key('node_id', 255),
        sa.Column('node_name', sa.String(length=255), nullable=True),
        _count('launches'),
        key=['state', 'node_id'],
    )
    op.create_table(
        'rollup_launch_seen',
        _key('launch_id', 64),
        _key('flow_id'),
        sa.Column('bucket', sa.BigInteger(), nullable=False),
        _key('state', 32),
        _key('node_id', 255),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('launch_id', name=op.f('pk_rollup_launch_seen')),
    )
    op.create_index(
        'ix_rollup_launch_seen_created_at', 'rollup_launch_seen', ['created_at'], unique=False
    )
    op.create_table(
        'rollup_flows',
        _key('flow_id'),
        sa.Column('last_event_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_launch_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('flow_id', name=op.f('pk_rollup_flows')),
    )
    op.create_table(
        'rollup_flow_nodes',
        _key('flow_id'),
        _key('node_id', 255),
        sa.Column('node_type', sa.String(length=255), nullable=True),
        sa.Column('node_name', sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint('flow_id', 'node_id', name=op.f('pk_rollup_flow_nodes')),
    )
    op.create_index('ix_launches_updated', 'launches', ['updated_at', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_launches_updated', table_name='launches')
    for table in (
        'rollup_flow_nodes',
        'rollup_flows',
        'rollup_launch_seen',
        'rollup_launches',
        'rollup_paths',
        'rollup_edges',
        'rollup_durations',
        'rollup_nodes',
        'rollup_runs',
        'rollup_state',
    ):
        op.drop_table(table)
