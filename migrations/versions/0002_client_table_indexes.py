"""client table: an index per sort order and a covering index for search

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 10:45:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('client_profile', schema=None) as batch_op:
        batch_op.alter_column('search_text', existing_type=sa.Text(), type_=sa.String(length=480),
                              existing_nullable=False, postgresql_using='left(search_text, 480)')
        batch_op.drop_index('ix_client_profile_status')
        batch_op.create_index('ix_client_profile_status_name', ['status', 'last_name', 'first_name'], unique=False)
        batch_op.create_index('ix_client_profile_city_name', ['city', 'last_name', 'first_name'], unique=False)
        batch_op.create_index('ix_client_profile_created_at', ['created_at'], unique=False)
        batch_op.create_index('ix_client_profile_search', ['search_text', 'last_name', 'first_name'], unique=False)


def downgrade():
    with op.batch_alter_table('client_profile', schema=None) as batch_op:
        batch_op.drop_index('ix_client_profile_search')
        batch_op.drop_index('ix_client_profile_created_at')
        batch_op.drop_index('ix_client_profile_city_name')
        batch_op.drop_index('ix_client_profile_status_name')
        batch_op.create_index('ix_client_profile_status', ['status'], unique=False)
        batch_op.alter_column('search_text', existing_type=sa.String(length=480), type_=sa.Text(),
                              existing_nullable=False)
