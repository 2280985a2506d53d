"""cases investigations contacts tasks chains

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 14:40:24.385451
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import fangkong.db.base
from sqlalchemy import Text  # noqa: F401  (autogenerate renders JSONB(astext_type=sa.Text()))
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('case_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_no', sa.String(length=32), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('area_code', sa.String(length=15), nullable=False),
    sa.Column('classification', sa.String(length=16), nullable=False),
    sa.Column('origin', sa.String(length=12), nullable=False),
    sa.Column('onset_date', sa.Date(), nullable=True),
    sa.Column('first_positive_at', fangkong.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('found_by', sa.String(length=24), nullable=False),
    sa.Column('work_unit_id', sa.Integer(), nullable=True),
    sa.Column('care_status', sa.String(length=24), nullable=False),
    sa.Column('care_place', sa.String(length=200), nullable=True),
    sa.Column('controlled_at', fangkong.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('reported_at', fangkong.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', fangkong.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', fangkong.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['area_code'], ['area.code'], name=op.f('fk_case_record_area_code_area')),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_case_record_person_id_person')),
    sa.ForeignKeyConstraint(['work_unit_id'], ['unit.id'], name=op.f('fk_case_record_work_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_record')),
    sa.UniqueConstraint('case_no', name=op.f('uq_case_record_case_no'))
    )
    with op.batch_alter_table('case_record', schema=None) as batch_op:
        batch_op.create_index('ix_case_record_area_code_id', ['area_code', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_record_person_id'), ['person_id'], unique=False)

    op.create_table('assistance_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('destination_code', sa.String(length=15), nullable=False),
    sa.Column('list', sa.String(length=20), nullable=False),
    sa.Column('reason_zh', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('exported_at', fangkong.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', fangkong.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['case_record.id'], name=op.f('fk_assistance_request_case_id_case_record')),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_assistance_request_person_id_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assistance_request')),
    sa.UniqueConstraint('case_id', 'person_id', name=op.f('uq_assistance_request_case_id_person_id'))
    )
    with op.batch_alter_table('assistance_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assistance_request_case_id'), ['case_id'], unique=False)

    op.create_table('case_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('field', sa.String(length=24), nullable=False),
    sa.Column('old', sa.String(length=200), nullable=True),
    sa.Column('new', sa.String(length=200), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('actor_name', sa.String(length=64), nullable=False),
    sa.Column('at', fangkong.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['case_record.id'], name=op.f('fk_case_change_case_id_case_record'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_change'))
    )
    with op.batch_alter_table('case_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_change_case_id'), ['case_id'], unique=False)

    op.create_table('case_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('infector_case_id', sa.Integer(), nullable=False),
    sa.Column('infectee_case_id', sa.Integer(), nullable=False),
    sa.Column('setting', sa.String(length=16), nullable=True),
    sa.Column('evidence', sa.Text(), nullable=True),
    sa.Column('confidence', sa.String(length=12), nullable=False),
    sa.Column('actor_name', sa.String(length=64), nullable=False),
    sa.Column('created_at', fangkong.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['infectee_case_id'], ['case_record.id'], name=op.f('fk_case_link_infectee_case_id_case_record')),
    sa.ForeignKeyConstraint(['infector_case_id'], ['case_record.id'], name=op.f('fk_case_link_infector_case_id_case_record')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_link')),
    sa.UniqueConstraint('infector_case_id', 'infectee_case_id', name=op.f('uq_case_link_infector_case_id_infectee_case_id'))
    )
    with op.batch_alter_table('case_link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_link_infectee_case_id'), ['infectee_case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_link_infector_case_id'), ['infector_case_id'], unique=False)

    op.create_table('contact_listing',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('list', sa.String(length=20), nullable=False),
    sa.Column('setting', sa.String(length=16), nullable=False),
    sa.Column('place_key', sa.String(length=64), nullable=False),
    sa.Column('place', sa.String(length=300), nullable=True),
    sa.Column('via_person_id', sa.Integer(), nullable=True),
    sa.Column('exposure_start', fangkong.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('exposure_end', fangkong.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('minutes', sa.Float(), nullable=True),
    sa.Column('reason_zh', sa.Text(), nullable=False),
    sa.Column('reason_en', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('created_at', fangkong.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_at', fangkong.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['case_record.id'], name=op.f('fk_contact_listing_case_id_case_record')),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_contact_listing_person_id_person')),
    sa.ForeignKeyConstraint(['via_person_id'], ['person.id'], name=op.f('fk_contact_listing_via_person_id_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contact_listing')),
    sa.UniqueConstraint('case_id', 'person_id', 'list', 'setting', 'place_key', name=op.f('uq_contact_listing_case_id_person_id_list_setting_place_key'))
    )
    with op.batch_alter_table('contact_listing', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contact_listing_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_contact_listing_person_id'), ['person_id'], unique=False)
        batch_op.create_index('ix_contact_listing_person_status', ['person_id', 'status'], unique=False)

    op.create_table('investigation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('notified_at', fangkong.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('on_site_due', fangkong.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('core_facts_due', fangkong.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('report_due', fangkong.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('on_site_at', fangkong.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('core_facts_at', fangkong.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('report_at', fangkong.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('lead', sa.String(length=64), nullable=True),
    sa.Column('profile_id', sa.String(length=48), nullable=False),
    sa.Column('checksum', sa.String(length=64), nullable=False),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('source_of_infection', sa.Text(), nullable=True),
    sa.Column('created_at', fangkong.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['case_record.id'], name=op.f('fk_investigation_case_id_case_record')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_investigation')),
    sa.UniqueConstraint('case_id', name=op.f('uq_investigation_case_id'))
    )
    op.create_table('task',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('area_code', sa.String(length=15), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=True),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('priority', sa.String(length=8), nullable=False),
    sa.Column('due_at', fangkong.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('dedupe_key', sa.String(length=120), nullable=True),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('result', sa.Text(), nullable=True),
    sa.Column('created_at', fangkong.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('done_at', fangkong.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('done_by', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['area_code'], ['area.code'], name=op.f('fk_task_area_code_area')),
    sa.ForeignKeyConstraint(['case_id'], ['case_record.id'], name=op.f('fk_task_case_id_case_record')),
    sa.ForeignKeyConstraint(['parent_id'], ['task.id'], name=op.f('fk_task_parent_id_task')),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_task_person_id_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_task_dedupe_key'))
    )
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.create_index('ix_task_area_status_due', ['area_code', 'status', 'due_at'], unique=False)
        batch_op.create_index('ix_task_status_due', ['status', 'due_at'], unique=False)

    op.create_table('interview_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('investigation_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('start', fangkong.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('end', fangkong.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('place_id', sa.Integer(), nullable=True),
    sa.Column('place_text', sa.String(length=300), nullable=True),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('person_text', sa.String(length=200), nullable=True),
    sa.Column('relation', sa.String(length=32), nullable=True),
    sa.Column('mode', sa.String(length=8), nullable=True),
    sa.Column('number', sa.String(length=16), nullable=True),
    sa.Column('carriage', sa.String(length=8), nullable=True),
    sa.Column('seat', sa.String(length=8), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('recorded_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', fangkong.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['investigation_id'], ['investigation.id'], name=op.f('fk_interview_entry_investigation_id_investigation'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_interview_entry_person_id_person')),
    sa.ForeignKeyConstraint(['place_id'], ['place.id'], name=op.f('fk_interview_entry_place_id_place')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_interview_entry'))
    )
    with op.batch_alter_table('interview_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_interview_entry_investigation_id'), ['investigation_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('interview_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_interview_entry_investigation_id'))

    op.drop_table('interview_entry')
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.drop_index('ix_task_status_due')
        batch_op.drop_index('ix_task_area_status_due')

    op.drop_table('task')
    op.drop_table('investigation')
    with op.batch_alter_table('contact_listing', schema=None) as batch_op:
        batch_op.drop_index('ix_contact_listing_person_status')
        batch_op.drop_index(batch_op.f('ix_contact_listing_person_id'))
        batch_op.drop_index(batch_op.f('ix_contact_listing_case_id'))

    op.drop_table('contact_listing')
    with op.batch_alter_table('case_link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_link_infector_case_id'))
        batch_op.drop_index(batch_op.f('ix_case_link_infectee_case_id'))

    op.drop_table('case_link')
    with op.batch_alter_table('case_change', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_change_case_id'))

    op.drop_table('case_change')
    with op.batch_alter_table('assistance_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assistance_request_case_id'))

    op.drop_table('assistance_request')
    with op.batch_alter_table('case_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_record_person_id'))
        batch_op.drop_index('ix_case_record_area_code_id')

    op.drop_table('case_record')
