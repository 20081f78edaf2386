"""flow history indexes: flow statistics and the flow list read covering indexes

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        'ix_events_flow_runs',
        'events',
        ['flow_id', 'launch_id', 'conversation_id', 'flow_execution_id', 'occurred_at', 'id', 'kind', 'source', 'node_id', 'node_type'],
        unique=False,
        sqlite_where=sa.text('flow_id IS NOT NULL'),
        postgresql_where=sa.text('flow_id IS NOT NULL'),
    )
    op.create_index(
        'ix_launches_flow_states',
        'launches',
        ['flow_id', 'state', 'current_node_id', 'current_node_name', 'created_at'],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index('ix_launches_flow_states', table_name='launches')
    op.drop_index('ix_events_flow_runs', table_name='events')
