"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 12:54:14.255946
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import fangkong.db.base

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('area',
    sa.Column('code', sa.String(length=15), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('level', sa.String(length=12), nullable=False),
    sa.Column('parent_code', sa.String(length=15), nullable=True),
    sa.Column('local', sa.Boolean(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('created_at', fangkong.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['parent_code'], ['area.code'], name=op.f('fk_area_parent_code_area'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_area'))
    )
    with op.batch_alter_table('area', schema=None) as batch_op:
        batch_op.create_index('ix_area_parent_code', ['parent_code'], unique=False)

    op.create_table('app_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=100), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('area_code', sa.String(length=15), nullable=True),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('language', sa.String(length=8), nullable=True),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', fangkong.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_login_at', fangkong.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', fangkong.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['area_code'], ['area.code'], name=op.f('fk_app_user_area_code_area')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_app_user')),
    sa.UniqueConstraint('username', name=op.f('uq_app_user_username'))
    )
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', fangkong.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_name', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('resource_type', sa.String(length=32), nullable=False),
    sa.Column('resource_id', sa.String(length=64), nullable=True),
    sa.Column('area_code', sa.String(length=15), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('before', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('after', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['app_user.id'], name=op.f('fk_audit_log_actor_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index('ix_audit_log_actor_id_at', ['actor_id', 'at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)
        batch_op.create_index('ix_audit_log_resource', ['resource_type', 'resource_id'], unique=False)

    op.create_table('auth_session',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('csrf_token', sa.String(length=64), nullable=True),
    sa.Column('created_at', fangkong.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', fangkong.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', fangkong.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_auth_session_user_id_app_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_auth_session'))
    )
    with op.batch_alter_table('auth_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auth_session_user_id'), ['user_id'], unique=False)

    op.create_table('domain_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('aggregate_type', sa.String(length=32), nullable=False),
    sa.Column('aggregate_id', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('occurred_at', fangkong.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['app_user.id'], name=op.f('fk_domain_event_actor_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_domain_event'))
    )
    with op.batch_alter_table('domain_event', schema=None) as batch_op:
        batch_op.create_index('ix_domain_event_aggregate', ['aggregate_type', 'aggregate_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_domain_event_type'), ['type'], unique=False)

    op.create_table('import_batch',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('filename', sa.String(length=300), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('rows_total', sa.Integer(), nullable=False),
    sa.Column('rows_stored', sa.Integer(), nullable=False),
    sa.Column('rows_rejected', sa.Integer(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('created_at', fangkong.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['app_user.id'], name=op.f('fk_import_batch_actor_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_batch'))
    )
    with op.batch_alter_table('import_batch', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_import_batch_sha256'), ['sha256'], unique=False)

    op.create_table('user_role',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_user_role_user_id_app_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'role', name=op.f('pk_user_role'))
    )
    op.create_table('event_handling',
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('handler', sa.String(length=100), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('handled_at', fangkong.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['domain_event.id'], name=op.f('fk_event_handling_event_id_domain_event'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('event_id', 'handler', name=op.f('pk_event_handling'))
    )
    op.create_table('household',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('area_code', sa.String(length=15), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=False),
    sa.Column('external_ref', sa.String(length=64), nullable=True),
    sa.Column('import_batch_id', sa.Integer(), nullable=True),
    sa.Column('created_at', fangkong.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', fangkong.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['area_code'], ['area.code'], name=op.f('fk_household_area_code_area')),
    sa.ForeignKeyConstraint(['import_batch_id'], ['import_batch.id'], name=op.f('fk_household_import_batch_id_import_batch')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_household')),
    sa.UniqueConstraint('external_ref', name=op.f('uq_household_external_ref'))
    )
    with op.batch_alter_table('household', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_household_area_code'), ['area_code'], unique=False)

    op.create_table('unit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('area_code', sa.String(length=15), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('credit_code', sa.String(length=18), nullable=True),
    sa.Column('contact_name', sa.String(length=100), nullable=True),
    sa.Column('contact_phone', sa.String(length=20), nullable=True),
    sa.Column('import_batch_id', sa.Integer(), nullable=True),
    sa.Column('created_at', fangkong.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', fangkong.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['area_code'], ['area.code'], name=op.f('fk_unit_area_code_area')),
    sa.ForeignKeyConstraint(['import_batch_id'], ['import_batch.id'], name=op.f('fk_unit_import_batch_id_import_batch')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unit')),
    sa.UniqueConstraint('credit_code', name=op.f('uq_unit_credit_code'))
    )
    with op.batch_alter_table('unit', schema=None) as batch_op:
        batch_op.create_index('ix_unit_area_code_id', ['area_code', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_unit_category'), ['category'], unique=False)

    op.create_table('person',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('sex', sa.String(length=8), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=True),
    sa.Column('nationality', sa.String(length=3), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('area_code', sa.String(length=15), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('household_id', sa.Integer(), nullable=True),
    sa.Column('household_relation', sa.String(length=16), nullable=True),
    sa.Column('work_unit_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('merged_into_id', sa.Integer(), nullable=True),
    sa.Column('import_batch_id', sa.Integer(), nullable=True),
    sa.Column('created_at', fangkong.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', fangkong.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['area_code'], ['area.code'], name=op.f('fk_person_area_code_area')),
    sa.ForeignKeyConstraint(['household_id'], ['household.id'], name=op.f('fk_person_household_id_household')),
    sa.ForeignKeyConstraint(['import_batch_id'], ['import_batch.id'], name=op.f('fk_person_import_batch_id_import_batch')),
    sa.ForeignKeyConstraint(['merged_into_id'], ['person.id'], name=op.f('fk_person_merged_into_id_person')),
    sa.ForeignKeyConstraint(['work_unit_id'], ['unit.id'], name=op.f('fk_person_work_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_person'))
    )
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.create_index('ix_person_area_code_id', ['area_code', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_person_household_id'), ['household_id'], unique=False)
        batch_op.create_index('ix_person_name', ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_person_phone'), ['phone'], unique=False)
        batch_op.create_index(batch_op.f('ix_person_work_unit_id'), ['work_unit_id'], unique=False)

    # app_user.person_id and person form a cycle (person -> import_batch -> app_user), so
    # this key is added once both tables exist.
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.create_foreign_key(
            op.f('fk_app_user_person_id_person'), 'person', ['person_id'], ['id']
        )

    op.create_table('place',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('area_code', sa.String(length=15), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('capacity', sa.Integer(), nullable=True),
    sa.Column('responsible_unit_id', sa.Integer(), nullable=True),
    sa.Column('venue_code', sa.String(length=40), nullable=False),
    sa.Column('import_batch_id', sa.Integer(), nullable=True),
    sa.Column('created_at', fangkong.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', fangkong.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['area_code'], ['area.code'], name=op.f('fk_place_area_code_area')),
    sa.ForeignKeyConstraint(['import_batch_id'], ['import_batch.id'], name=op.f('fk_place_import_batch_id_import_batch')),
    sa.ForeignKeyConstraint(['responsible_unit_id'], ['unit.id'], name=op.f('fk_place_responsible_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_place')),
    sa.UniqueConstraint('venue_code', name=op.f('uq_place_venue_code'))
    )
    with op.batch_alter_table('place', schema=None) as batch_op:
        batch_op.create_index('ix_place_area_code_id', ['area_code', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_place_category'), ['category'], unique=False)
        batch_op.create_index(batch_op.f('ix_place_responsible_unit_id'), ['responsible_unit_id'], unique=False)

    op.create_table('person_identifier',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('value', sa.String(length=64), nullable=False),
    sa.Column('is_primary', sa.Boolean(), nullable=False),
    sa.Column('created_at', fangkong.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_person_identifier_person_id_person'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_person_identifier')),
    sa.UniqueConstraint('kind', 'value', name=op.f('uq_person_identifier_kind_value'))
    )
    with op.batch_alter_table('person_identifier', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_person_identifier_person_id'), ['person_id'], unique=False)
        batch_op.create_index('ix_person_identifier_value', ['value'], unique=False)

    op.create_table('person_key_group',
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('key_group', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_person_key_group_person_id_person'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('person_id', 'key_group', name=op.f('pk_person_key_group'))
    )
    with op.batch_alter_table('person_key_group', schema=None) as batch_op:
        batch_op.create_index('ix_person_key_group_key_group', ['key_group', 'person_id'], unique=False)

    op.create_table('person_merge',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('survivor_id', sa.Integer(), nullable=False),
    sa.Column('merged_id', sa.Integer(), nullable=False),
    sa.Column('snapshot', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('merged_at', fangkong.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['app_user.id'], name=op.f('fk_person_merge_actor_id_app_user')),
    sa.ForeignKeyConstraint(['merged_id'], ['person.id'], name=op.f('fk_person_merge_merged_id_person')),
    sa.ForeignKeyConstraint(['survivor_id'], ['person.id'], name=op.f('fk_person_merge_survivor_id_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_person_merge'))
    )
    with op.batch_alter_table('person_merge', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_person_merge_merged_id'), ['merged_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_person_merge_survivor_id'), ['survivor_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('fk_app_user_person_id_person'), type_='foreignkey')

    with op.batch_alter_table('person_merge', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_person_merge_survivor_id'))
        batch_op.drop_index(batch_op.f('ix_person_merge_merged_id'))

    op.drop_table('person_merge')
    with op.batch_alter_table('person_key_group', schema=None) as batch_op:
        batch_op.drop_index('ix_person_key_group_key_group')

    op.drop_table('person_key_group')
    with op.batch_alter_table('person_identifier', schema=None) as batch_op:
        batch_op.drop_index('ix_person_identifier_value')
        batch_op.drop_index(batch_op.f('ix_person_identifier_person_id'))

    op.drop_table('person_identifier')
    with op.batch_alter_table('place', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_place_responsible_unit_id'))
        batch_op.drop_index(batch_op.f('ix_place_category'))
        batch_op.drop_index('ix_place_area_code_id')

    op.drop_table('place')
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_person_work_unit_id'))
        batch_op.drop_index(batch_op.f('ix_person_phone'))
        batch_op.drop_index('ix_person_name')
        batch_op.drop_index(batch_op.f('ix_person_household_id'))
        batch_op.drop_index('ix_person_area_code_id')

    op.drop_table('person')
    with op.batch_alter_table('unit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_unit_category'))
        batch_op.drop_index('ix_unit_area_code_id')

    op.drop_table('unit')
    with op.batch_alter_table('household', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_household_area_code'))

    op.drop_table('household')
    op.drop_table('event_handling')
    op.drop_table('user_role')
    with op.batch_alter_table('import_batch', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_import_batch_sha256'))

    op.drop_table('import_batch')
    with op.batch_alter_table('domain_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_domain_event_type'))
        batch_op.drop_index('ix_domain_event_aggregate')

    op.drop_table('domain_event')
    with op.batch_alter_table('auth_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auth_session_user_id'))

    op.drop_table('auth_session')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_log_resource')
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))
        batch_op.drop_index('ix_audit_log_actor_id_at')

    op.drop_table('audit_log')
    op.drop_table('app_user')
    with op.batch_alter_table('area', schema=None) as batch_op:
        batch_op.drop_index('ix_area_parent_code')

    op.drop_table('area')
