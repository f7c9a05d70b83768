"""an invitation says whether an assignment of its order keeps the volunteer off the standby

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07

Issue 15 (district scale): the standby (`wartime.standby.standby_filter`) is the order's accepted invitations that
no assignment of the order keeps off it (active, a no-show, released by an officer). Read as an anti-join, every
read probed all the order's accepted invitations (thousands, most of them placed) against all its assignments, to
find the few dozen waiting: at every match, wave evaluation, sweep and standby notice. `invitations.off_standby`,
kept by `wartime.places` with the assignments in their transaction, narrows the read to the waiting (index
ix_invitations_order_standby); on the district drill's mid-fill snapshot (3,124 accepted, 49 waiting) the standby's
read went from 1.66 to 0.24 ms on SQLite (the statement now kept per order, too), the idle places' check from 3.0
to 1.6 ms. Existing rows are marked from their assignments here.
"""
import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

ACTIVE = ('proposed', 'notified', 'confirmed', 'arrived', 'completed')


def upgrade() -> None:
    op.add_column('invitations', sa.Column('off_standby', sa.Boolean(), server_default=sa.false(), nullable=False))
    # the rule of `wartime.places.keeps_off_standby` as of this revision
    keeping = ", ".join(f"'{status}'" for status in (*ACTIVE, 'no_show'))
    op.execute("UPDATE invitations SET off_standby = EXISTS (SELECT 1 FROM assignments a "
               "WHERE a.order_id = invitations.order_id AND a.volunteer_id = invitations.volunteer_id "
               f"AND (a.status IN ({keeping}) OR (a.status = 'released' AND a.end_reason = 'released_by_officer')))")
    op.create_index('ix_invitations_order_standby', 'invitations',
                    ['order_id', 'status', 'off_standby', 'volunteer_id'])


def downgrade() -> None:
    op.drop_index('ix_invitations_order_standby', table_name='invitations')
    with op.batch_alter_table('invitations') as batch:
        batch.drop_column('off_standby')
