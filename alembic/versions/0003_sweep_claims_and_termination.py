"""sweep claims and termination

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('launches', schema=None) as batch_op:
        batch_op.add_column(sa.Column('due_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('termination_attempts', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('termination_reason', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('disconnect_requested_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('stop_requested_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('last_error', sa.Text(), nullable=True))
        batch_op.create_index('ix_launches_due', ['due_at'], unique=False, sqlite_where=sa.text('due_at IS NOT NULL'), postgresql_where=sa.text('due_at IS NOT NULL'))
        batch_op.create_index('ix_launches_stop', ['stop_requested_at'], unique=False, sqlite_where=sa.text('stop_requested_at IS NOT NULL'), postgresql_where=sa.text('stop_requested_at IS NOT NULL'))



def downgrade() -> None:
    with op.batch_alter_table('launches', schema=None) as batch_op:
        batch_op.drop_index('ix_launches_stop', sqlite_where=sa.text('stop_requested_at IS NOT NULL'), postgresql_where=sa.text('stop_requested_at IS NOT NULL'))
        batch_op.drop_index('ix_launches_due', sqlite_where=sa.text('due_at IS NOT NULL'), postgresql_where=sa.text('due_at IS NOT NULL'))
        batch_op.drop_column('last_error')
        batch_op.drop_column('stop_requested_at')
        batch_op.drop_column('disconnect_requested_at')
        batch_op.drop_column('termination_reason')
        batch_op.drop_column('termination_attempts')
        batch_op.drop_column('claimed_until')
        batch_op.drop_column('claimed_by')
        batch_op.drop_column('due_at')

