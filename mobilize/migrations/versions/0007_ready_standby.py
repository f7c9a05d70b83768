"""fill first: ready standby, and since when a place could be taken

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06

Issue 10 ("confirmed fill, fast"): the standby SMS asks whether the volunteer can go at short notice; a "yes" is
stored in `invitations.ready_at`. A ready volunteer placed soon after (a backfill) is dispatched as confirmed: they
already said they will go, so the place does not wait for a second answer. `demands.idle_since`: since when a
demand has had an open place that an accepted, unplaced volunteer qualifies for; the hold-back of a place for a
nearer answer ends HOLD_MAX_S after it. Nullable columns: no table rebuild.
"""
from alembic import op
import sqlalchemy as sa

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('invitations', sa.Column('ready_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('demands', sa.Column('idle_since', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): a batch rebuild would cascade-delete through foreign keys
    op.drop_column('demands', 'idle_since')
    op.drop_column('invitations', 'ready_at')
