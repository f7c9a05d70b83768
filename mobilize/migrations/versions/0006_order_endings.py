"""order endings: recruiting stopped (staffed) is a live state

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06

Issue 10 gives an order three endings: stop recruiting (the new state `staffed`, when it happened in
`recruiting_stopped_at`), finish (`closed`) and cancel. A staffed order's volunteers still text its reply code
(confirm, drop out, arrive, check out), so the code stays unique among draft, open, filled and staffed orders.
The state column is a VARCHAR(12) and 'staffed' fits: no table is rebuilt (on SQLite a rebuild of `orders` would
cascade-delete its demands and assignments through the foreign keys).
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

OLD_WHERE = "state IN ('draft', 'open', 'filled')"
NEW_WHERE = "state IN ('draft', 'open', 'filled', 'staffed')"


def _live_code_index(where: str) -> None:
    op.create_index('uq_orders_live_code', 'orders', ['reply_code'], unique=True,
                    sqlite_where=sa.text(where), postgresql_where=sa.text(where))


def upgrade() -> None:
    op.add_column('orders', sa.Column('recruiting_stopped_at', sa.DateTime(timezone=True), nullable=True))
    op.drop_index('uq_orders_live_code', table_name='orders')
    _live_code_index(NEW_WHERE)


def downgrade() -> None:
    # the old code knows no `staffed`: such an order reads as filled (no more waves) there
    op.execute("UPDATE orders SET state = 'filled' WHERE state = 'staffed'")
    op.drop_index('uq_orders_live_code', table_name='orders')
    _live_code_index(OLD_WHERE)
    op.drop_column('orders', 'recruiting_stopped_at')
