"""the order's invitations by status are indexed with their volunteer and invitation time (covering)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06

Issue 15 (district scale): the standby (`wartime.standby.standby_filter`: the order's accepted invitations) and
the pending invitees (`standby.pending_invitees`: invited within the wave interval), read at every match, every
wave evaluation and, in the drill, after every answer, found their rows through (order_id, status) and then read
each invitation's row for its volunteer and time. With both in the index those reads never touch the table,
and the volunteers are then looked up in id order: on the district drill's mid-fill snapshot (4,107 accepted,
6,031 pending) the standby read took 3.4 -> 2.0 ms, the pending read 13.3 -> 7.5 ms. It replaces
ix_invitations_order_status, whose columns it starts with. Plain CREATE INDEX.
"""
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_invitations_order_status_volunteer', 'invitations',
                    ['order_id', 'status', 'volunteer_id', 'invited_at'])
    op.drop_index('ix_invitations_order_status', table_name='invitations')


def downgrade() -> None:
    op.create_index('ix_invitations_order_status', 'invitations', ['order_id', 'status'])
    op.drop_index('ix_invitations_order_status_volunteer', table_name='invitations')
