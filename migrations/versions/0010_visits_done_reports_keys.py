"""visits done: check-in and check-out, report cards, keys

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25 21:00:00

Until this release a scheduled visit counted as completed once its time had passed. Nobody recorded
it, so those visits become "done_unrecorded" (completed, not checked in): no check-in time is invented.
"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('checklist_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=120), nullable=False),
    sa.Column('required', sa.Boolean(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['service_id'], ['service.id'], name=op.f('fk_checklist_item_service_id_service'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_checklist_item'))
    )
    with op.batch_alter_table('checklist_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_checklist_item_service_id'), ['service_id'], unique=False)

    op.create_table('key_holder',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('has_key', sa.Boolean(), nullable=False),
    sa.Column('knows_code', sa.Boolean(), nullable=False),
    sa.Column('notes', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['client_profile.id'], name=op.f('fk_key_holder_client_id_client_profile'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_user.id'], name=op.f('fk_key_holder_staff_id_staff_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_key_holder')),
    sa.UniqueConstraint('client_id', 'staff_id', name=op.f('uq_key_holder_client_id'))
    )
    with op.batch_alter_table('key_holder', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_key_holder_staff_id'), ['staff_id'], unique=False)

    op.create_table('visit_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('latitude', sa.Float(), nullable=True),
    sa.Column('longitude', sa.Float(), nullable=True),
    sa.Column('accuracy', sa.Float(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_user.id'], name=op.f('fk_visit_event_staff_id_staff_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['visit_id'], ['visit.id'], name=op.f('fk_visit_event_visit_id_visit'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_visit_event'))
    )
    with op.batch_alter_table('visit_event', schema=None) as batch_op:
        batch_op.create_index('ix_visit_event_visit_at', ['visit_id', 'at'], unique=False)

    op.create_table('visit_report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('checklist', sa.JSON(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('mood', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['staff_user.id'], name=op.f('fk_visit_report_created_by_id_staff_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['visit_id'], ['visit.id'], name=op.f('fk_visit_report_visit_id_visit'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_visit_report')),
    sa.UniqueConstraint('visit_id', 'version', name=op.f('uq_visit_report_visit_id'))
    )
    op.create_table('report_photo',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=True),
    sa.Column('stored_name', sa.String(length=80), nullable=False),
    sa.Column('thumb_name', sa.String(length=80), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['report_id'], ['visit_report.id'], name=op.f('fk_report_photo_report_id_visit_report'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['staff_user.id'], name=op.f('fk_report_photo_uploaded_by_id_staff_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['visit_id'], ['visit.id'], name=op.f('fk_report_photo_visit_id_visit'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_photo')),
    sa.UniqueConstraint('stored_name', name=op.f('uq_report_photo_stored_name')),
    sa.UniqueConstraint('thumb_name', name=op.f('uq_report_photo_thumb_name'))
    )
    with op.batch_alter_table('report_photo', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_photo_report_id'), ['report_id'], unique=False)
        batch_op.create_index('ix_report_photo_visit', ['visit_id', 'report_id'], unique=False)

    with op.batch_alter_table('client_profile', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lockbox_code', sa.String(length=40), server_default='', nullable=False))

    with op.batch_alter_table('site_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('location_mode', sa.String(length=8), server_default='asked', nullable=False))
        batch_op.add_column(sa.Column('short_visit_percent', sa.Integer(), server_default='50', nullable=False))
        batch_op.add_column(sa.Column('report_before_checkout', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('late_grace_minutes', sa.Integer(), server_default='15', nullable=False))
        batch_op.add_column(sa.Column('travel_gap_minutes', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('key_notices', sa.Boolean(), server_default=sa.true(), nullable=False))

    with op.batch_alter_table('visit', schema=None) as batch_op:
        batch_op.add_column(sa.Column('checked_in_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('checked_out_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('check_in_latitude', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('check_in_longitude', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('check_in_accuracy', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('check_out_latitude', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('check_out_longitude', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('check_out_accuracy', sa.Float(), nullable=True))
        batch_op.create_index('ix_visit_sitter_client', ['sitter_id', 'client_id'], unique=False)

    visit = sa.table('visit', sa.column('status', sa.String), sa.column('ends_at', sa.DateTime(timezone=True)))
    op.get_bind().execute(visit.update().where(visit.c.status == 'scheduled', visit.c.ends_at <= datetime.now(timezone.utc))
                          .values(status='done_unrecorded'))


def downgrade():
    visit = sa.table('visit', sa.column('status', sa.String))
    op.get_bind().execute(visit.update().where(visit.c.status.in_(['in_progress', 'completed', 'missed', 'done_unrecorded']))
                          .values(status='scheduled'))
    with op.batch_alter_table('visit', schema=None) as batch_op:
        batch_op.drop_index('ix_visit_sitter_client')
        batch_op.drop_column('check_out_accuracy')
        batch_op.drop_column('check_out_longitude')
        batch_op.drop_column('check_out_latitude')
        batch_op.drop_column('check_in_accuracy')
        batch_op.drop_column('check_in_longitude')
        batch_op.drop_column('check_in_latitude')
        batch_op.drop_column('checked_out_at')
        batch_op.drop_column('checked_in_at')

    with op.batch_alter_table('site_settings', schema=None) as batch_op:
        batch_op.drop_column('key_notices')
        batch_op.drop_column('travel_gap_minutes')
        batch_op.drop_column('late_grace_minutes')
        batch_op.drop_column('report_before_checkout')
        batch_op.drop_column('short_visit_percent')
        batch_op.drop_column('location_mode')

    with op.batch_alter_table('client_profile', schema=None) as batch_op:
        batch_op.drop_column('lockbox_code')

    with op.batch_alter_table('report_photo', schema=None) as batch_op:
        batch_op.drop_index('ix_report_photo_visit')
        batch_op.drop_index(batch_op.f('ix_report_photo_report_id'))

    op.drop_table('report_photo')
    op.drop_table('visit_report')
    with op.batch_alter_table('visit_event', schema=None) as batch_op:
        batch_op.drop_index('ix_visit_event_visit_at')

    op.drop_table('visit_event')
    with op.batch_alter_table('key_holder', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_key_holder_staff_id'))

    op.drop_table('key_holder')
    with op.batch_alter_table('checklist_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_checklist_item_service_id'))

    op.drop_table('checklist_item')
