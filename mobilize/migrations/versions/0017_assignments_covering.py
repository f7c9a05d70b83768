"""the order's assignments are indexed with their status and end reason (covering the standby's anti-join)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07

Issue 15 (district scale): the standby (`wartime.standby.standby_filter`) leaves out the volunteers an assignment
of the order blocks (active, a no-show, or released by an officer). That list was read through (order_id,
volunteer_id) and then each assignment's row for its status and end reason: thousands of row reads at every
match, every wave evaluation, every sweep and, in the drill, after every answer. With both in the index the list
is read from the index alone: on the district drill's mid-fill snapshot (3,500 assignments, 3,459 accepted
invitations) the anti-join took 1.9 -> 1.1 ms on SQLite. It replaces ix_assignments_order_volunteer, whose columns
it starts with. Plain CREATE INDEX.
"""
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_assignments_order_volunteer_status', 'assignments',
                    ['order_id', 'volunteer_id', 'status', 'end_reason'])
    op.drop_index('ix_assignments_order_volunteer', table_name='assignments')


def downgrade() -> None:
    op.create_index('ix_assignments_order_volunteer', 'assignments', ['order_id', 'volunteer_id'])
    op.drop_index('ix_assignments_order_volunteer_status', table_name='assignments')
