"""the opted-out volunteers are indexed (partial: only they)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06

Issue 15 (district scale): the pacing's audience (`wartime.pacing_inputs.audience_bound`), read on every wave
evaluation, is every volunteer less the opted out and those invited already; counting the volunteers not opted
out read all 100,000 rows each time, the few opted out are read from this index. Plain CREATE INDEX.
"""
import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_volunteers_opted_out', 'volunteers', ['opted_out_at'],
                    sqlite_where=sa.text('opted_out_at IS NOT NULL'),
                    postgresql_where=sa.text('opted_out_at IS NOT NULL'))


def downgrade() -> None:
    op.drop_index('ix_volunteers_opted_out', table_name='volunteers')
