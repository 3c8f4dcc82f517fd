"""client erasure: when a client was erased and by whom (services.erasure)

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-26 06:05:00

Only columns are added; no existing row changes. On SQLite the foreign key makes Alembic copy the table, with
foreign keys off while it does (migrations/env.py), as earlier migrations did.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('client_profile', schema=None) as batch_op:
        batch_op.add_column(sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('erased_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('erased_by_name', sa.String(length=200), server_default='', nullable=False))
        batch_op.create_foreign_key(batch_op.f('fk_client_profile_erased_by_id_staff_user'), 'staff_user', ['erased_by_id'], ['id'], ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('client_profile', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_client_profile_erased_by_id_staff_user'), type_='foreignkey')
        batch_op.drop_column('erased_by_name')
        batch_op.drop_column('erased_by_id')
        batch_op.drop_column('erased_at')

