"""needed by: an order's deadline and its urgent switch

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06

Issue 14 ("needed by"): `orders.needed_by`, when 95% of the places must be filled (NULL: the order's start), which
the waves pace their invitations to; `orders.urgent`, everyone eligible invited at once, nearest first. Plain ADD
COLUMN (nullable, or with a server default): no table rebuild, which on SQLite would cascade through foreign keys.
"""
from alembic import op
import sqlalchemy as sa

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('orders', sa.Column('needed_by', sa.DateTime(timezone=True), nullable=True))
    op.add_column('orders', sa.Column('urgent', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    # plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): a batch rebuild would cascade-delete through foreign keys
    op.drop_column('orders', 'urgent')
    op.drop_column('orders', 'needed_by')
