"""dead letters: inbound messages whose processing keeps failing are set aside

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06

Issue 12 ("poison messages go to a dead-letter state"): `inbound_messages.attempts` counts failed processing
attempts, `last_error` keeps the last one's error (truncated), `dead_at` says when the message was set aside
after too many; the requeue sweep skips dead messages, an admin retries them. Plain ADD COLUMN (nullable, or
with a server default): no table rebuild, which on SQLite would cascade through foreign keys.
"""
from alembic import op
import sqlalchemy as sa

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('inbound_messages', sa.Column('attempts', sa.Integer(), server_default='0', nullable=False))
    op.add_column('inbound_messages', sa.Column('last_error', sa.String(length=500), nullable=True))
    op.add_column('inbound_messages', sa.Column('dead_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): a batch rebuild would cascade-delete through foreign keys
    op.drop_column('inbound_messages', 'dead_at')
    op.drop_column('inbound_messages', 'last_error')
    op.drop_column('inbound_messages', 'attempts')
