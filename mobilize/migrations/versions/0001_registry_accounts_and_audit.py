"""registry, accounts and audit

Revision ID: 0001
Revises: 
Create Date: 2026-11-29

Also loads the district's reference data: the 11 streets, the skills and the roles.
"""
from alembic import op
import sqlalchemy as sa

from mobilize.domain.district import ROLES, SKILLS, STREETS


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('skills',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name_zh', sa.String(length=40), nullable=False),
    sa.Column('name_en', sa.String(length=60), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_skills')),
    sa.UniqueConstraint('code', name=op.f('uq_skills_code')),
    sa.UniqueConstraint('name_zh', name=op.f('uq_skills_name_zh'))
    )
    op.create_table('streets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('short_name', sa.String(length=20), nullable=False),
    sa.Column('name_en', sa.String(length=60), nullable=False),
    sa.Column('slug', sa.String(length=40), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_streets')),
    sa.UniqueConstraint('name', name=op.f('uq_streets_name')),
    sa.UniqueConstraint('short_name', name=op.f('uq_streets_short_name')),
    sa.UniqueConstraint('slug', name=op.f('uq_streets_slug'))
    )
    op.create_table('communities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('street_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['street_id'], ['streets.id'], name=op.f('fk_communities_street_id_streets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_communities')),
    sa.UniqueConstraint('street_id', 'name', name=op.f('uq_communities_street_id_name'))
    )
    with op.batch_alter_table('communities', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_communities_street_id'), ['street_id'], unique=False)

    op.create_table('roles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name_zh', sa.String(length=40), nullable=False),
    sa.Column('name_en', sa.String(length=60), nullable=False),
    sa.Column('skill_id', sa.Integer(), nullable=True),
    sa.Column('accepts_provisional', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['skill_id'], ['skills.id'], name=op.f('fk_roles_skill_id_skills'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_roles')),
    sa.UniqueConstraint('code', name=op.f('uq_roles_code'))
    )
    op.create_table('teams',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('street_id', sa.Integer(), nullable=True),
    sa.Column('specialised', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['street_id'], ['streets.id'], name=op.f('fk_teams_street_id_streets'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_teams')),
    sa.UniqueConstraint('name', name=op.f('uq_teams_name'))
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=60), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('role', sa.Enum('admin', 'commander', 'officer', 'viewer', name='userrole', native_enum=False, length=20), nullable=False),
    sa.Column('street_id', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("role <> 'officer' OR street_id IS NOT NULL", name=op.f('ck_users_officer_has_street')),
    sa.ForeignKeyConstraint(['street_id'], ['streets.id'], name=op.f('fk_users_street_id_streets'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('username', name=op.f('uq_users_username'))
    )
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=12), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_tokens_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_user_id'), ['user_id'], unique=False)

    op.create_table('audit_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_user_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=80), nullable=False),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('subject_type', sa.String(length=40), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['actor_user_id'], ['users.id'], name=op.f('fk_audit_events_actor_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_events_at'), ['at'], unique=False)
        batch_op.create_index('ix_audit_events_subject', ['subject_type', 'subject_id'], unique=False)

    op.create_table('sites',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('street_id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('kind', sa.Enum('testing_site', 'intersection', 'station', 'community_post', 'other', name='sitekind', native_enum=False, length=20), nullable=False),
    sa.Column('address', sa.String(length=200), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('contact_name', sa.String(length=40), nullable=False),
    sa.Column('contact_phone', sa.String(length=20), nullable=False),
    sa.CheckConstraint('lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180', name=op.f('ck_sites_coordinates')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_sites_community_id_communities'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['street_id'], ['streets.id'], name=op.f('fk_sites_street_id_streets'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sites')),
    sa.UniqueConstraint('street_id', 'name', name=op.f('uq_sites_street_id_name'))
    )
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sites_street_id'), ['street_id'], unique=False)

    op.create_table('volunteers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('street_id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('location_approximate', sa.Boolean(), nullable=False),
    sa.Column('language', sa.String(length=2), nullable=False),
    sa.Column('opted_out_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('phone_invalid', sa.Boolean(), nullable=False),
    sa.Column('provisional', sa.Boolean(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("language IN ('zh', 'en')", name=op.f('ck_volunteers_language')),
    sa.CheckConstraint('(lat IS NULL AND lon IS NULL) OR (lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180)', name=op.f('ck_volunteers_coordinates')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_volunteers_community_id_communities'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['street_id'], ['streets.id'], name=op.f('fk_volunteers_street_id_streets'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volunteers')),
    sa.UniqueConstraint('phone', name=op.f('uq_volunteers_phone'))
    )
    with op.batch_alter_table('volunteers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_volunteers_street_id'), ['street_id'], unique=False)

    op.create_table('site_roles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('role_id', sa.Integer(), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.CheckConstraint('capacity >= 0', name=op.f('ck_site_roles_capacity_not_negative')),
    sa.ForeignKeyConstraint(['role_id'], ['roles.id'], name=op.f('fk_site_roles_role_id_roles'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_site_roles_site_id_sites'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_site_roles')),
    sa.UniqueConstraint('site_id', 'role_id', name=op.f('uq_site_roles_site_id_role_id'))
    )
    op.create_table('volunteer_skills',
    sa.Column('volunteer_id', sa.Integer(), nullable=False),
    sa.Column('skill_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['skill_id'], ['skills.id'], name=op.f('fk_volunteer_skills_skill_id_skills'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], name=op.f('fk_volunteer_skills_volunteer_id_volunteers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('volunteer_id', 'skill_id', name=op.f('pk_volunteer_skills'))
    )
    with op.batch_alter_table('volunteer_skills', schema=None) as batch_op:
        batch_op.create_index('ix_volunteer_skills_skill_id', ['skill_id'], unique=False)

    op.create_table('volunteer_teams',
    sa.Column('volunteer_id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_volunteer_teams_team_id_teams'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], name=op.f('fk_volunteer_teams_volunteer_id_volunteers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('volunteer_id', 'team_id', name=op.f('pk_volunteer_teams'))
    )
    with op.batch_alter_table('volunteer_teams', schema=None) as batch_op:
        batch_op.create_index('ix_volunteer_teams_team_id', ['team_id'], unique=False)
    _load_reference_data()


def _load_reference_data() -> None:
    streets = sa.table("streets", *(sa.column(c) for c in ("name", "short_name", "name_en", "slug", "lat", "lon")))
    op.bulk_insert(streets, [
        {"name": s.name, "short_name": s.short_name, "name_en": s.name_en, "slug": s.slug, "lat": s.lat, "lon": s.lon}
        for s in STREETS
    ])
    skills = sa.table("skills", sa.column("id"), sa.column("code"), sa.column("name_zh"), sa.column("name_en"))
    op.bulk_insert(skills, [
        {"id": number, "code": code, "name_zh": zh, "name_en": en}
        for number, (code, zh, en) in enumerate(SKILLS, start=1)
    ])
    skill_ids = {code: number for number, (code, _zh, _en) in enumerate(SKILLS, start=1)}
    roles = sa.table("roles", *(sa.column(c) for c in ("code", "name_zh", "name_en", "skill_id",
                                                         "accepts_provisional")))
    op.bulk_insert(roles, [
        {"code": code, "name_zh": zh, "name_en": en, "skill_id": skill_ids.get(skill) if skill else None,
         "accepts_provisional": provisional}
        for code, zh, en, skill, provisional in ROLES
    ])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("SELECT setval(pg_get_serial_sequence('skills', 'id'), (SELECT max(id) FROM skills))")


def downgrade() -> None:

    with op.batch_alter_table('volunteer_teams', schema=None) as batch_op:
        batch_op.drop_index('ix_volunteer_teams_team_id')

    op.drop_table('volunteer_teams')
    with op.batch_alter_table('volunteer_skills', schema=None) as batch_op:
        batch_op.drop_index('ix_volunteer_skills_skill_id')

    op.drop_table('volunteer_skills')
    op.drop_table('site_roles')
    with op.batch_alter_table('volunteers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_volunteers_street_id'))

    op.drop_table('volunteers')
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sites_street_id'))

    op.drop_table('sites')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_subject')
        batch_op.drop_index(batch_op.f('ix_audit_events_at'))

    op.drop_table('audit_events')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_user_id'))

    op.drop_table('api_tokens')
    op.drop_table('users')
    op.drop_table('teams')
    op.drop_table('roles')
    with op.batch_alter_table('communities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_communities_street_id'))

    op.drop_table('communities')
    op.drop_table('streets')
    op.drop_table('skills')

