"""portal feature switches and onboarding state

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 10:53:01.617704

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():

    with op.batch_alter_table('client_profile', schema=None) as batch_op:
        batch_op.add_column(sa.Column('onboarding_complete', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_index(batch_op.f('ix_client_profile_onboarding_complete'), ['onboarding_complete'], unique=False)

    with op.batch_alter_table('site_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('portal_profile', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('portal_pets', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('portal_forms', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('portal_requests', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('portal_calendar', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('portal_cards', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('portal_invoices', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('portal_payments', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('portal_visit_reports', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('accept_bank_accounts', sa.Boolean(), server_default=sa.false(), nullable=False))




def downgrade():

    with op.batch_alter_table('site_settings', schema=None) as batch_op:
        batch_op.drop_column('accept_bank_accounts')
        batch_op.drop_column('portal_visit_reports')
        batch_op.drop_column('portal_payments')
        batch_op.drop_column('portal_invoices')
        batch_op.drop_column('portal_cards')
        batch_op.drop_column('portal_calendar')
        batch_op.drop_column('portal_requests')
        batch_op.drop_column('portal_forms')
        batch_op.drop_column('portal_pets')
        batch_op.drop_column('portal_profile')

    with op.batch_alter_table('client_profile', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_client_profile_onboarding_complete'))
        batch_op.drop_column('onboarding_complete')


