"""wartime orders

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('orders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=80), nullable=False),
    sa.Column('reply_code', sa.String(length=4), nullable=False),
    sa.Column('state', sa.Enum('draft', 'open', 'filled', 'closed', 'cancelled', name='orderstate', native_enum=False, length=12), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('street_ids', sa.JSON(), nullable=True),
    sa.Column('max_distance_m', sa.Float(), nullable=True),
    sa.Column('languages', sa.JSON(), nullable=True),
    sa.Column('rest_hours', sa.Integer(), nullable=False),
    sa.Column('peacetime_policy', sa.Enum('leave', 'release', name='peacetimepolicy', native_enum=False, length=10), nullable=False),
    sa.Column('expected_answer_rate', sa.Float(), nullable=False),
    sa.Column('over_recruit_factor', sa.Float(), nullable=False),
    sa.Column('wave_interval_s', sa.Integer(), nullable=False),
    sa.Column('confirmation_required', sa.Boolean(), nullable=False),
    sa.Column('confirmation_timeout_s', sa.Integer(), nullable=False),
    sa.Column('open_call', sa.Boolean(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('launched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('filled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_wave_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('waves_sent', sa.Integer(), nullable=False),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_orders_window')),
    sa.CheckConstraint('expected_answer_rate > 0 AND expected_answer_rate <= 1', name=op.f('ck_orders_answer_rate')),
    sa.CheckConstraint('over_recruit_factor >= 1', name=op.f('ck_orders_over_recruit')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_orders_created_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_orders'))
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index('uq_orders_live_code', ['reply_code'], unique=True, sqlite_where=sa.text("state IN ('draft', 'open', 'filled')"), postgresql_where=sa.text("state IN ('draft', 'open', 'filled')"))

    op.create_table('demands',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('role_id', sa.Integer(), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('filled', sa.Integer(), nullable=False),
    sa.Column('required_skill_id', sa.Integer(), nullable=True),
    sa.Column('accepts_provisional', sa.Boolean(), nullable=False),
    sa.CheckConstraint('capacity >= 0', name=op.f('ck_demands_capacity_not_negative')),
    sa.CheckConstraint('filled >= 0 AND filled <= capacity', name=op.f('ck_demands_filled_within_capacity')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_demands_order_id_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['required_skill_id'], ['skills.id'], name=op.f('fk_demands_required_skill_id_skills'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['role_id'], ['roles.id'], name=op.f('fk_demands_role_id_roles'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_demands_site_id_sites'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_demands')),
    sa.UniqueConstraint('order_id', 'site_id', 'role_id', name=op.f('uq_demands_order_id_site_id_role_id'))
    )
    with op.batch_alter_table('demands', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_demands_order_id'), ['order_id'], unique=False)

    op.create_table('invitations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('volunteer_id', sa.Integer(), nullable=False),
    sa.Column('wave', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('queued', 'invited', 'accepted', 'declined', 'cancelled', name='invitationstatus', native_enum=False, length=12), nullable=False),
    sa.Column('distance_m', sa.Float(), nullable=True),
    sa.Column('invited_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('standby_notified_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_invitations_order_id_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], name=op.f('fk_invitations_volunteer_id_volunteers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invitations')),
    sa.UniqueConstraint('order_id', 'volunteer_id', name=op.f('uq_invitations_order_id_volunteer_id'))
    )
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.create_index('ix_invitations_order_status', ['order_id', 'status'], unique=False)
        batch_op.create_index('ix_invitations_volunteer_status', ['volunteer_id', 'status'], unique=False)

    op.create_table('assignments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('demand_id', sa.Integer(), nullable=False),
    sa.Column('volunteer_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('proposed', 'notified', 'confirmed', 'arrived', 'completed', 'released', 'declined', 'no_show', name='assignmentstatus', native_enum=False, length=12), nullable=False),
    sa.Column('distance_m', sa.Float(), nullable=True),
    sa.Column('backfill', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('notified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('confirm_by', sa.DateTime(timezone=True), nullable=True),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('arrived_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sa.String(length=40), nullable=True),
    sa.Column('hours', sa.Float(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['demand_id'], ['demands.id'], name=op.f('fk_assignments_demand_id_demands'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_assignments_order_id_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], name=op.f('fk_assignments_volunteer_id_volunteers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assignments'))
    )
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.create_index('ix_assignments_confirm_by', ['status', 'confirm_by'], unique=False)
        batch_op.create_index('ix_assignments_demand_status', ['demand_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_assignments_volunteer_id'), ['volunteer_id'], unique=False)
        batch_op.create_index('uq_assignments_active_volunteer', ['order_id', 'volunteer_id'], unique=True, sqlite_where=sa.text("status IN ('proposed', 'notified', 'confirmed', 'arrived', 'completed')"), postgresql_where=sa.text("status IN ('proposed', 'notified', 'confirmed', 'arrived', 'completed')"))

    op.create_table('responses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('volunteer_id', sa.Integer(), nullable=False),
    sa.Column('inbound_message_id', sa.Integer(), nullable=True),
    sa.Column('intent', sa.String(length=20), nullable=False),
    sa.Column('outcome', sa.String(length=40), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['inbound_message_id'], ['inbound_messages.id'], name=op.f('fk_responses_inbound_message_id_inbound_messages'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_responses_order_id_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], name=op.f('fk_responses_volunteer_id_volunteers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_responses'))
    )
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.create_index('ix_responses_order', ['order_id', 'at'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.drop_index('ix_responses_order')

    op.drop_table('responses')
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.drop_index('uq_assignments_active_volunteer', sqlite_where=sa.text("status IN ('proposed', 'notified', 'confirmed', 'arrived', 'completed')"), postgresql_where=sa.text("status IN ('proposed', 'notified', 'confirmed', 'arrived', 'completed')"))
        batch_op.drop_index(batch_op.f('ix_assignments_volunteer_id'))
        batch_op.drop_index('ix_assignments_demand_status')
        batch_op.drop_index('ix_assignments_confirm_by')

    op.drop_table('assignments')
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_index('ix_invitations_volunteer_status')
        batch_op.drop_index('ix_invitations_order_status')

    op.drop_table('invitations')
    with op.batch_alter_table('demands', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_demands_order_id'))

    op.drop_table('demands')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('uq_orders_live_code', sqlite_where=sa.text("state IN ('draft', 'open', 'filled')"), postgresql_where=sa.text("state IN ('draft', 'open', 'filled')"))

    op.drop_table('orders')

