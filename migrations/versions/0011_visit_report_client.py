"""a visit report knows its client, so a client's latest reports are read from an index

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25 22:15:00

The column is filled from each report's visit before it becomes NOT NULL.
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('visit_report', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_id', sa.Integer(), nullable=True))

    report = sa.table('visit_report', sa.column('visit_id', sa.Integer), sa.column('client_id', sa.Integer))
    visit = sa.table('visit', sa.column('id', sa.Integer), sa.column('client_id', sa.Integer))
    op.get_bind().execute(report.update().values(
        client_id=sa.select(visit.c.client_id).where(visit.c.id == report.c.visit_id).scalar_subquery()))

    with op.batch_alter_table('visit_report', schema=None) as batch_op:
        batch_op.alter_column('client_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(batch_op.f('fk_visit_report_client_id_client_profile'), 'client_profile',
                                    ['client_id'], ['id'], ondelete='CASCADE')
        batch_op.create_index('ix_visit_report_client_sent', ['client_id', 'created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('visit_report', schema=None) as batch_op:
        batch_op.drop_index('ix_visit_report_client_sent')
        batch_op.drop_constraint(batch_op.f('fk_visit_report_client_id_client_profile'), type_='foreignkey')
        batch_op.drop_column('client_id')
