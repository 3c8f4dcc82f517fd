"""messages: threads with clients, visitors (the Contact page) and visits, their messages, each staff member's
reading of them, and the switches for the portal's Messages and the Contact page

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-26 05:11:53

Only tables and columns are added; no existing row changes. Threads and messages are history: their foreign keys
to clients, visits and threads restrict; a removed login or staff member leaves the message with its author's name.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('message_thread',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=True),
    sa.Column('visit_id', sa.Integer(), nullable=True),
    sa.Column('subject', sa.String(length=160), nullable=False),
    sa.Column('contact_name', sa.String(length=160), nullable=False),
    sa.Column('contact_email', sa.String(length=254), nullable=False),
    sa.Column('contact_phone', sa.String(length=40), nullable=False),
    sa.Column('form_key', sa.String(length=64), nullable=True),
    sa.Column('assigned_to_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_message_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_author', sa.String(length=40), nullable=False),
    sa.Column('business_wrote_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('client_read_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['assigned_to_id'], ['staff_user.id'], name=op.f('fk_message_thread_assigned_to_id_staff_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['client_id'], ['client_profile.id'], name=op.f('fk_message_thread_client_id_client_profile'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['visit_id'], ['visit.id'], name=op.f('fk_message_thread_visit_id_visit'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_message_thread')),
    sa.UniqueConstraint('form_key', name=op.f('uq_message_thread_form_key')),
    sa.UniqueConstraint('visit_id', name=op.f('uq_message_thread_visit_id'))
    )
    with op.batch_alter_table('message_thread', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_message_thread_assigned_to_id'), ['assigned_to_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_message_thread_client_id'), ['client_id'], unique=False)
        batch_op.create_index('ix_message_thread_last', ['last_message_at'], unique=False)

    op.create_table('message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('thread_id', sa.Integer(), nullable=False),
    sa.Column('author', sa.String(length=10), nullable=False),
    sa.Column('login_id', sa.Integer(), nullable=True),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('author_name', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attachment_stored', sa.String(length=80), nullable=True),
    sa.Column('attachment_name', sa.String(length=200), nullable=False),
    sa.Column('attachment_type', sa.String(length=60), nullable=False),
    sa.Column('attachment_size', sa.Integer(), nullable=False),
    sa.Column('form_key', sa.String(length=40), nullable=True),
    sa.ForeignKeyConstraint(['login_id'], ['client_login.id'], name=op.f('fk_message_login_id_client_login'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_user.id'], name=op.f('fk_message_staff_id_staff_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['thread_id'], ['message_thread.id'], name=op.f('fk_message_thread_id_message_thread'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_message')),
    sa.UniqueConstraint('attachment_stored', name=op.f('uq_message_attachment_stored')),
    sa.UniqueConstraint('form_key', name=op.f('uq_message_form_key'))
    )
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.create_index('ix_message_in_thread', ['thread_id', 'id'], unique=False)

    op.create_table('message_read',
    sa.Column('thread_id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_user.id'], name=op.f('fk_message_read_staff_id_staff_user'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['thread_id'], ['message_thread.id'], name=op.f('fk_message_read_thread_id_message_thread'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('thread_id', 'staff_id', name=op.f('pk_message_read'))
    )
    with op.batch_alter_table('site_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('portal_messages', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('contact_enabled', sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade():
    with op.batch_alter_table('site_settings', schema=None) as batch_op:
        batch_op.drop_column('contact_enabled')
        batch_op.drop_column('portal_messages')

    op.drop_table('message_read')
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_index('ix_message_in_thread')

    op.drop_table('message')
    with op.batch_alter_table('message_thread', schema=None) as batch_op:
        batch_op.drop_index('ix_message_thread_last')
        batch_op.drop_index(batch_op.f('ix_message_thread_client_id'))
        batch_op.drop_index(batch_op.f('ix_message_thread_assigned_to_id'))

    op.drop_table('message_thread')
