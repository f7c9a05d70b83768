"""admin pages: API tokens get a name; the outbox's send times are indexed

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06

Issue 16 (admin pages): `api_tokens.name` says what a token is for ("交通岗巡查脚本"), shown in /admin/tokens
beside its prefix and last use; `ix_outbound_messages_sent_at` lets /admin/system count the messages handed to
the gateway in the last minute (its send rate, refreshed every few seconds) without reading the whole outbox.
Plain ADD COLUMN (nullable) and CREATE INDEX: no table rebuild, which on SQLite would cascade through foreign keys.
"""
from alembic import op
import sqlalchemy as sa

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('api_tokens', sa.Column('name', sa.String(length=60), nullable=True))
    op.create_index('ix_outbound_messages_sent_at', 'outbound_messages', ['sent_at'])


def downgrade() -> None:
    op.drop_index('ix_outbound_messages_sent_at', table_name='outbound_messages')
    # plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): a batch rebuild would cascade-delete through foreign keys
    op.drop_column('api_tokens', 'name')
