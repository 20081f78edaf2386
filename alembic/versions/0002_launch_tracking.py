"""launch tracking

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('launches', schema=None) as batch_op:
        batch_op.add_column(sa.Column('input_data', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('idempotency_key', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('state_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('error_code', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('current_node_id', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('current_node_name', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('timeout_seconds', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('idle_timeout_seconds', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('last_event_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_launches_created', ['created_at', 'id'], unique=False)
        batch_op.create_index('ix_launches_flow_created', ['flow_id', 'created_at'], unique=False)
        batch_op.create_unique_constraint(batch_op.f('uq_launches_idempotency_key'), ['idempotency_key'])



def downgrade() -> None:
    with op.batch_alter_table('launches', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_launches_idempotency_key'), type_='unique')
        batch_op.drop_index('ix_launches_flow_created')
        batch_op.drop_index('ix_launches_created')
        batch_op.drop_column('ended_at')
        batch_op.drop_column('last_event_at')
        batch_op.drop_column('idle_timeout_seconds')
        batch_op.drop_column('timeout_seconds')
        batch_op.drop_column('current_node_name')
        batch_op.drop_column('current_node_id')
        batch_op.drop_column('error_code')
        batch_op.drop_column('state_reason')
        batch_op.drop_column('idempotency_key')
        batch_op.drop_column('input_data')

