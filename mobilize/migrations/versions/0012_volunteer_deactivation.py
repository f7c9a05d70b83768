"""volunteer deactivation: a volunteer taken out of the registry's active pool by an officer or the command
center

Revision ID: 0012
Revises: 0009
Create Date: 2026-12-10

Issue 16 (volunteer pages): `volunteers.deactivated_at` (NULL: active). A deactivated volunteer keeps their
history (assignments, shifts, service records, messages) but is invited by nothing: orders, notices and
peacetime backfill leave them out. Unlike opting out, it is the service's decision, not the volunteer's, and an
SMS cannot undo it. Plain ADD COLUMN (nullable): no table rebuild, which on SQLite would cascade through foreign
keys.
"""
from alembic import op
import sqlalchemy as sa

revision = '0012'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('volunteers', sa.Column('deactivated_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): a batch rebuild would cascade-delete through foreign keys
    op.drop_column('volunteers', 'deactivated_at')
