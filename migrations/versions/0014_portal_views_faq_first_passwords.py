"""staff viewing the portal as a client (each view logged); the business's client FAQ; first passwords for
clients already on file (a site option, on)

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-26 03:27:00

Only a table and two columns are added; no existing row changes. The view log keeps the staff member's and the
client's names, so it outlives either (its foreign keys set null).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('portal_view',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('staff_name', sa.String(length=200), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=True),
    sa.Column('client_name', sa.String(length=200), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('path', sa.String(length=300), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['client_profile.id'], name=op.f('fk_portal_view_client_id_client_profile'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_user.id'], name=op.f('fk_portal_view_staff_id_staff_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_view'))
    )
    with op.batch_alter_table('portal_view', schema=None) as batch_op:
        batch_op.create_index('ix_portal_view_client_at', ['client_id', 'at'], unique=False)
        batch_op.create_index(batch_op.f('ix_portal_view_staff_id'), ['staff_id'], unique=False)

    with op.batch_alter_table('site_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('first_time_passwords', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('faq_markdown', sa.Text(), server_default='', nullable=False))



def downgrade():
    with op.batch_alter_table('site_settings', schema=None) as batch_op:
        batch_op.drop_column('faq_markdown')
        batch_op.drop_column('first_time_passwords')

    with op.batch_alter_table('portal_view', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_portal_view_staff_id'))
        batch_op.drop_index('ix_portal_view_client_at')

    op.drop_table('portal_view')
