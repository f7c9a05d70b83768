"""open call dialogues and notices

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('texts', sa.JSON(), nullable=False),
    sa.Column('street_ids', sa.JSON(), nullable=True),
    sa.Column('team_ids', sa.JSON(), nullable=True),
    sa.Column('skill_codes', sa.JSON(), nullable=True),
    sa.Column('languages', sa.JSON(), nullable=True),
    sa.Column('include_provisional', sa.Boolean(), nullable=False),
    sa.Column('state', sa.Enum('draft', 'sent', name='noticestate', native_enum=False, length=10), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.String(length=80), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('recipients', sa.Integer(), nullable=False),
    sa.Column('segments', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_notices_created_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notices'))
    )
    op.create_table('open_call_dialogues',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('step', sa.Enum('name', 'street', 'confirm', 'joined', 'ended', name='dialoguestep', native_enum=False, length=10), nullable=False),
    sa.Column('language', sa.String(length=2), nullable=True),
    sa.Column('name', sa.String(length=60), nullable=True),
    sa.Column('street_id', sa.Integer(), nullable=True),
    sa.Column('bad_answers', sa.Integer(), nullable=False),
    sa.Column('messages', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_activity_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('prompted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sa.String(length=30), nullable=True),
    sa.Column('opted_out_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('volunteer_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_open_call_dialogues_order_id_orders'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['street_id'], ['streets.id'], name=op.f('fk_open_call_dialogues_street_id_streets'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], name=op.f('fk_open_call_dialogues_volunteer_id_volunteers'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_open_call_dialogues')),
    sa.UniqueConstraint('phone', name=op.f('uq_open_call_dialogues_phone'))
    )


def downgrade() -> None:
    op.drop_table('open_call_dialogues')
    op.drop_table('notices')
