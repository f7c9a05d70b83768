"""the standby read: assignments are indexed by (order, volunteer), whatever their status

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06

Issue 15 (district scale): the standby (`wartime.standby.standby_filter`) is the order's accepted invitations
minus the volunteers its assignments block (placed, no-show, released by an officer). Read as one anti-join on
the order's assignments, found by this index instead of every active assignment of every order (the partial
unique index covers only active rows; a no-show or an officer's release must block too). Plain CREATE INDEX.
"""
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_assignments_order_volunteer', 'assignments', ['order_id', 'volunteer_id'])


def downgrade() -> None:
    op.drop_index('ix_assignments_order_volunteer', table_name='assignments')
