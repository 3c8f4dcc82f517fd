"""client forms with versions, responses and documents

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 10:59:08.595574

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():

    op.create_table('client_form',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=160), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('per_pet', sa.Boolean(), nullable=False),
    sa.Column('onboarding', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_client_form'))
    )
    op.create_table('client_form_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('form_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['form_id'], ['client_form.id'], name=op.f('fk_client_form_version_form_id_client_form'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_client_form_version')),
    sa.UniqueConstraint('form_id', 'number', name='uq_client_form_version_number')
    )
    with op.batch_alter_table('client_form_version', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_client_form_version_form_id'), ['form_id'], unique=False)

    op.create_table('document',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('pet_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=160), nullable=False),
    sa.Column('stored_name', sa.String(length=80), nullable=False),
    sa.Column('original_name', sa.String(length=200), nullable=False),
    sa.Column('content_type', sa.String(length=60), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('for_form', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['client_profile.id'], name=op.f('fk_document_client_id_client_profile'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['pet_id'], ['pet.id'], name=op.f('fk_document_pet_id_pet'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_document')),
    sa.UniqueConstraint('stored_name', name=op.f('uq_document_stored_name'))
    )
    with op.batch_alter_table('document', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_document_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_document_pet_id'), ['pet_id'], unique=False)

    op.create_table('form_response',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('form_id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('pet_id', sa.Integer(), nullable=True),
    sa.Column('login_id', sa.Integer(), nullable=True),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['client_profile.id'], name=op.f('fk_form_response_client_id_client_profile'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['form_id'], ['client_form.id'], name=op.f('fk_form_response_form_id_client_form'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['login_id'], ['client_login.id'], name=op.f('fk_form_response_login_id_client_login'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['pet_id'], ['pet.id'], name=op.f('fk_form_response_pet_id_pet'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['version_id'], ['client_form_version.id'], name=op.f('fk_form_response_version_id_client_form_version'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_form_response'))
    )
    with op.batch_alter_table('form_response', schema=None) as batch_op:
        batch_op.create_index('ix_form_response_client_form', ['client_id', 'form_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_form_response_pet_id'), ['pet_id'], unique=False)




def downgrade():

    with op.batch_alter_table('form_response', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_form_response_pet_id'))
        batch_op.drop_index('ix_form_response_client_form')

    op.drop_table('form_response')
    with op.batch_alter_table('document', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_document_pet_id'))
        batch_op.drop_index(batch_op.f('ix_document_client_id'))

    op.drop_table('document')
    with op.batch_alter_table('client_form_version', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_client_form_version_form_id'))

    op.drop_table('client_form_version')
    op.drop_table('client_form')

