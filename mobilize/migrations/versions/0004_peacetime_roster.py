"""peacetime roster

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('roster_gap_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_date', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('shifts', sa.Integer(), nullable=False),
    sa.Column('open_places', sa.Integer(), nullable=False),
    sa.Column('invitations', sa.Integer(), nullable=False),
    sa.Column('streets', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_roster_gap_reports')),
    sa.UniqueConstraint('report_date', name=op.f('uq_roster_gap_reports_report_date'))
    )
    op.create_table('posts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('role_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('slots', sa.Integer(), nullable=False),
    sa.Column('protected', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('slots >= 1 AND slots <= 500', name=op.f('ck_posts_slots')),
    sa.ForeignKeyConstraint(['role_id'], ['roles.id'], name=op.f('fk_posts_role_id_roles'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_posts_site_id_sites'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_posts')),
    sa.UniqueConstraint('site_id', 'name', name=op.f('uq_posts_site_id_name'))
    )
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_posts_site_id'), ['site_id'], unique=False)

    op.create_table('roster_holidays',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('on_date', sa.Date(), nullable=False),
    sa.Column('street_id', sa.Integer(), nullable=True),
    sa.Column('post_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=80), nullable=False),
    sa.Column('created_by', sa.String(length=80), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_roster_holidays_post_id_posts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['street_id'], ['streets.id'], name=op.f('fk_roster_holidays_street_id_streets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_roster_holidays'))
    )
    with op.batch_alter_table('roster_holidays', schema=None) as batch_op:
        batch_op.create_index('ix_roster_holidays_on_date', ['on_date'], unique=False)

    op.create_table('shift_patterns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('weekdays', sa.String(length=7), nullable=False),
    sa.Column('start_time', sa.Time(), nullable=False),
    sa.Column('end_time', sa.Time(), nullable=False),
    sa.Column('slots', sa.Integer(), nullable=True),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('slots IS NULL OR (slots >= 1 AND slots <= 500)', name=op.f('ck_shift_patterns_slots')),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_shift_patterns_post_id_posts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shift_patterns'))
    )
    with op.batch_alter_table('shift_patterns', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shift_patterns_post_id'), ['post_id'], unique=False)

    op.create_table('shifts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('pattern_id', sa.Integer(), nullable=True),
    sa.Column('local_date', sa.Date(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('filled', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('scheduled', 'cancelled', 'ended', name='shiftstatus', native_enum=False, length=12), nullable=False),
    sa.Column('code', sa.String(length=4), nullable=False),
    sa.Column('extra', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancel_reason', sa.String(length=120), nullable=True),
    sa.CheckConstraint('capacity >= 0', name=op.f('ck_shifts_capacity_not_negative')),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_shifts_window')),
    sa.CheckConstraint('filled >= 0 AND filled <= capacity', name=op.f('ck_shifts_filled_within_capacity')),
    sa.ForeignKeyConstraint(['pattern_id'], ['shift_patterns.id'], name=op.f('fk_shifts_pattern_id_shift_patterns'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_shifts_post_id_posts'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shifts')),
    sa.UniqueConstraint('post_id', 'starts_at', name=op.f('uq_shifts_post_id_starts_at'))
    )
    with op.batch_alter_table('shifts', schema=None) as batch_op:
        batch_op.create_index('ix_shifts_starts_at', ['starts_at'], unique=False)
        batch_op.create_index('ix_shifts_status_starts_at', ['status', 'starts_at'], unique=False)
        batch_op.create_index('uq_shifts_live_code', ['code'], unique=True, sqlite_where=sa.text("status = 'scheduled'"), postgresql_where=sa.text("status = 'scheduled'"))

    op.create_table('shift_signups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('shift_id', sa.Integer(), nullable=False),
    sa.Column('volunteer_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('waitlisted', 'booked', 'checked_in', 'completed', 'cancelled', 'released', 'no_show', 'swapped', 'removed', name='signupstatus', native_enum=False, length=12), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('created_by', sa.String(length=80), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('booked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('checked_in_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('checked_out_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('late_minutes', sa.Integer(), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sa.String(length=40), nullable=True),
    sa.Column('released_by_order_id', sa.Integer(), nullable=True),
    sa.Column('reminded_day_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reminded_hour_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('late_minutes IS NULL OR late_minutes >= 0', name=op.f('ck_shift_signups_late_minutes')),
    sa.ForeignKeyConstraint(['released_by_order_id'], ['orders.id'], name=op.f('fk_shift_signups_released_by_order_id_orders'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['shift_id'], ['shifts.id'], name=op.f('fk_shift_signups_shift_id_shifts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], name=op.f('fk_shift_signups_volunteer_id_volunteers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shift_signups'))
    )
    with op.batch_alter_table('shift_signups', schema=None) as batch_op:
        batch_op.create_index('ix_shift_signups_shift_status', ['shift_id', 'status'], unique=False)
        batch_op.create_index('ix_shift_signups_volunteer_status', ['volunteer_id', 'status'], unique=False)
        batch_op.create_index('uq_shift_signups_live', ['shift_id', 'volunteer_id'], unique=True, sqlite_where=sa.text("status IN ('waitlisted', 'booked', 'checked_in', 'completed')"), postgresql_where=sa.text("status IN ('waitlisted', 'booked', 'checked_in', 'completed')"))

    op.create_table('service_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('volunteer_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('shift', 'wartime', 'imported', name='servicekind', native_enum=False, length=10), nullable=False),
    sa.Column('signup_id', sa.Integer(), nullable=True),
    sa.Column('assignment_id', sa.Integer(), nullable=True),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('street_id', sa.Integer(), nullable=True),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('description', sa.String(length=120), nullable=False),
    sa.Column('role', sa.String(length=60), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('hours', sa.Float(), nullable=False),
    sa.Column('certified_hours', sa.Float(), nullable=True),
    sa.Column('status', sa.Enum('pending', 'certified', name='servicestatus', native_enum=False, length=10), nullable=False),
    sa.Column('certified_by_user_id', sa.Integer(), nullable=True),
    sa.Column('certified_by', sa.String(length=80), nullable=True),
    sa.Column('certified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('adjustment_reason', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(kind = 'shift' AND signup_id IS NOT NULL AND assignment_id IS NULL) OR (kind = 'wartime' AND assignment_id IS NOT NULL AND signup_id IS NULL) OR (kind = 'imported' AND signup_id IS NULL AND assignment_id IS NULL)", name=op.f('ck_service_records_source')),
    sa.CheckConstraint("status <> 'certified' OR certified_hours IS NOT NULL", name=op.f('ck_service_records_certified_has_hours')),
    sa.CheckConstraint('certified_hours IS NULL OR certified_hours >= 0', name=op.f('ck_service_records_certified_not_negative')),
    sa.CheckConstraint('hours >= 0', name=op.f('ck_service_records_hours_not_negative')),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignments.id'], name=op.f('fk_service_records_assignment_id_assignments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['certified_by_user_id'], ['users.id'], name=op.f('fk_service_records_certified_by_user_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_service_records_order_id_orders'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['signup_id'], ['shift_signups.id'], name=op.f('fk_service_records_signup_id_shift_signups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_service_records_site_id_sites'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['street_id'], ['streets.id'], name=op.f('fk_service_records_street_id_streets'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], name=op.f('fk_service_records_volunteer_id_volunteers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_records')),
    sa.UniqueConstraint('assignment_id', name=op.f('uq_service_records_assignment_id')),
    sa.UniqueConstraint('signup_id', name=op.f('uq_service_records_signup_id'))
    )
    with op.batch_alter_table('service_records', schema=None) as batch_op:
        batch_op.create_index('ix_service_records_street_status', ['street_id', 'status'], unique=False)
        batch_op.create_index('ix_service_records_volunteer_status', ['volunteer_id', 'status'], unique=False)

    op.create_table('shift_swaps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=4), nullable=False),
    sa.Column('status', sa.Enum('proposed', 'completed', 'declined', 'cancelled', 'expired', 'failed', name='swapstatus', native_enum=False, length=12), nullable=False),
    sa.Column('first_signup_id', sa.Integer(), nullable=False),
    sa.Column('second_signup_id', sa.Integer(), nullable=True),
    sa.Column('first_volunteer_id', sa.Integer(), nullable=False),
    sa.Column('second_volunteer_id', sa.Integer(), nullable=False),
    sa.Column('first_accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('second_accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.String(length=80), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=80), nullable=True),
    sa.ForeignKeyConstraint(['first_signup_id'], ['shift_signups.id'], name=op.f('fk_shift_swaps_first_signup_id_shift_signups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['first_volunteer_id'], ['volunteers.id'], name=op.f('fk_shift_swaps_first_volunteer_id_volunteers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['second_signup_id'], ['shift_signups.id'], name=op.f('fk_shift_swaps_second_signup_id_shift_signups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['second_volunteer_id'], ['volunteers.id'], name=op.f('fk_shift_swaps_second_volunteer_id_volunteers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shift_swaps'))
    )
    with op.batch_alter_table('shift_swaps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shift_swaps_first_volunteer_id'), ['first_volunteer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_shift_swaps_second_volunteer_id'), ['second_volunteer_id'], unique=False)
        batch_op.create_index('ix_shift_swaps_status', ['status'], unique=False)
        batch_op.create_index('uq_shift_swaps_live_code', ['code'], unique=True, sqlite_where=sa.text("status = 'proposed'"), postgresql_where=sa.text("status = 'proposed'"))




def downgrade() -> None:

    with op.batch_alter_table('shift_swaps', schema=None) as batch_op:
        batch_op.drop_index('uq_shift_swaps_live_code', sqlite_where=sa.text("status = 'proposed'"), postgresql_where=sa.text("status = 'proposed'"))
        batch_op.drop_index('ix_shift_swaps_status')
        batch_op.drop_index(batch_op.f('ix_shift_swaps_second_volunteer_id'))
        batch_op.drop_index(batch_op.f('ix_shift_swaps_first_volunteer_id'))

    op.drop_table('shift_swaps')
    with op.batch_alter_table('service_records', schema=None) as batch_op:
        batch_op.drop_index('ix_service_records_volunteer_status')
        batch_op.drop_index('ix_service_records_street_status')

    op.drop_table('service_records')
    with op.batch_alter_table('shift_signups', schema=None) as batch_op:
        batch_op.drop_index('uq_shift_signups_live', sqlite_where=sa.text("status IN ('waitlisted', 'booked', 'checked_in', 'completed')"), postgresql_where=sa.text("status IN ('waitlisted', 'booked', 'checked_in', 'completed')"))
        batch_op.drop_index('ix_shift_signups_volunteer_status')
        batch_op.drop_index('ix_shift_signups_shift_status')

    op.drop_table('shift_signups')
    with op.batch_alter_table('shifts', schema=None) as batch_op:
        batch_op.drop_index('uq_shifts_live_code', sqlite_where=sa.text("status = 'scheduled'"), postgresql_where=sa.text("status = 'scheduled'"))
        batch_op.drop_index('ix_shifts_status_starts_at')
        batch_op.drop_index('ix_shifts_starts_at')

    op.drop_table('shifts')
    with op.batch_alter_table('shift_patterns', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shift_patterns_post_id'))

    op.drop_table('shift_patterns')
    with op.batch_alter_table('roster_holidays', schema=None) as batch_op:
        batch_op.drop_index('ix_roster_holidays_on_date')

    op.drop_table('roster_holidays')
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_posts_site_id'))

    op.drop_table('posts')
    op.drop_table('roster_gap_reports')

