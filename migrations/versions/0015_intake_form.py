"""the public intake form for new clients: its switch and title, and one row per form sent (its own key), so
the same form posted twice makes one profile

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-26 03:25:00

Only a table and two columns are added; no existing row changes.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('intake_submission',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('form_key', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['client_profile.id'], name=op.f('fk_intake_submission_client_id_client_profile'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_intake_submission')),
    sa.UniqueConstraint('form_key', name=op.f('uq_intake_submission_form_key'))
    )
    with op.batch_alter_table('intake_submission', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_intake_submission_client_id'), ['client_id'], unique=False)

    with op.batch_alter_table('site_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('intake_enabled', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('intake_title', sa.String(length=120), server_default='Start with us', nullable=False))



def downgrade():
    with op.batch_alter_table('site_settings', schema=None) as batch_op:
        batch_op.drop_column('intake_title')
        batch_op.drop_column('intake_enabled')

    with op.batch_alter_table('intake_submission', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_intake_submission_client_id'))

    op.drop_table('intake_submission')
