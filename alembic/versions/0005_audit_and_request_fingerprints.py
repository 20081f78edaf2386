"""audit trail and request fingerprints: who did what through the API; a launch keeps the
digest of the request that made it, so a reused Idempotency-Key is recognised

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'audit',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('key_name', sa.String(length=100), nullable=False),
        sa.Column('action', sa.String(length=32), nullable=False),
        sa.Column('target', sa.String(length=255), nullable=True),
        sa.Column('request_id', sa.String(length=128), nullable=True),
        sa.Column('outcome', sa.String(length=32), nullable=False),
        sa.Column('detail', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit')),
    )
    op.create_index('ix_audit_at', 'audit', ['at', 'id'], unique=False)
    op.create_index(
        'ix_audit_target',
        'audit',
        ['target', 'id'],
        unique=False,
        sqlite_where=sa.text('target IS NOT NULL'),
        postgresql_where=sa.text('target IS NOT NULL'),
    )
    with op.batch_alter_table('launches', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request_fingerprint', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('launches', schema=None) as batch_op:
        batch_op.drop_column('request_fingerprint')
    op.drop_index('ix_audit_target', table_name='audit')
    op.drop_index('ix_audit_at', table_name='audit')
    op.drop_table('audit')
