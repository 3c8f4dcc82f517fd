"""visits, visit requests, block-outs, calendar feed tokens

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 12:04:22.851879

"""
import secrets

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('block_out',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('note', sa.String(length=300), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['staff_user.id'], name=op.f('fk_block_out_created_by_id_staff_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_block_out'))
    )
    with op.batch_alter_table('block_out', schema=None) as batch_op:
        batch_op.create_index('ix_block_out_days', ['ends_on', 'starts_on'], unique=False)

    op.create_table('visit_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('login_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum('pending', 'approved', 'partial', 'declined', 'cancelled', name='requeststatus', native_enum=False, length=16), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decline_reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['client_profile.id'], name=op.f('fk_visit_request_client_id_client_profile'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['staff_user.id'], name=op.f('fk_visit_request_created_by_id_staff_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['decided_by_id'], ['staff_user.id'], name=op.f('fk_visit_request_decided_by_id_staff_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['login_id'], ['client_login.id'], name=op.f('fk_visit_request_login_id_client_login'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_visit_request'))
    )
    with op.batch_alter_table('visit_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_visit_request_client_id'), ['client_id'], unique=False)
        batch_op.create_index('ix_visit_request_status_created', ['status', 'created_at'], unique=False)

    op.create_table('visit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=True),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('sitter_id', sa.Integer(), nullable=True),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('window', sa.String(length=16), nullable=False),
    sa.Column('price_cents', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('requested', 'scheduled', 'declined', 'cancelled', name='visitstatus', native_enum=False, length=16), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('late_cancellation', sa.Boolean(), nullable=False),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_by', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['client_profile.id'], name=op.f('fk_visit_client_id_client_profile'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['request_id'], ['visit_request.id'], name=op.f('fk_visit_request_id_visit_request'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['service_id'], ['service.id'], name=op.f('fk_visit_service_id_service'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['sitter_id'], ['staff_user.id'], name=op.f('fk_visit_sitter_id_staff_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_visit'))
    )
    with op.batch_alter_table('visit', schema=None) as batch_op:
        batch_op.create_index('ix_visit_client_day', ['client_id', 'day'], unique=False)
        batch_op.create_index('ix_visit_day_starts', ['day', 'starts_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_visit_request_id'), ['request_id'], unique=False)
        batch_op.create_index('ix_visit_sitter_day', ['sitter_id', 'day'], unique=False)

    op.create_table('visit_pet',
    sa.Column('visit_id', sa.Integer(), nullable=False),
    sa.Column('pet_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['pet_id'], ['pet.id'], name=op.f('fk_visit_pet_pet_id_pet'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['visit_id'], ['visit.id'], name=op.f('fk_visit_pet_visit_id_visit'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('visit_id', 'pet_id', name=op.f('pk_visit_pet'))
    )
    with op.batch_alter_table('visit_pet', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_visit_pet_pet_id'), ['pet_id'], unique=False)

    with op.batch_alter_table('client_profile', schema=None) as batch_op:
        batch_op.add_column(sa.Column('activated_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('activated_reason', sa.String(length=200), server_default='', nullable=False))

    with op.batch_alter_table('site_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cancellation_hours', sa.Integer(), server_default='24', nullable=False))
    # The one settings row exists from now on, so no page has to create it (every portal page reads it).
    settings = sa.table('site_settings', sa.column('id', sa.Integer), sa.column('clients_can_register', sa.Boolean),
                        sa.column('billing_requires_card', sa.Boolean), sa.column('client_field_rules', sa.JSON),
                        sa.column('pet_field_rules', sa.JSON))
    connection = op.get_bind()
    if connection.execute(sa.select(sa.func.count()).select_from(settings)).scalar() == 0:
        connection.execute(settings.insert().values(id=1, clients_can_register=True, billing_requires_card=False,
                                                    client_field_rules={}, pet_field_rules={}))

    # Every existing account gets its own feed secret before the column becomes required.
    for table in ('staff_user', 'client_login'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('calendar_token', sa.String(length=43), nullable=True))
        rows = sa.table(table, sa.column('id', sa.Integer), sa.column('calendar_token', sa.String))
        connection = op.get_bind()
        for (row_id,) in connection.execute(sa.select(rows.c.id)).all():
            connection.execute(rows.update().where(rows.c.id == row_id).values(calendar_token=secrets.token_urlsafe(32)))
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('calendar_token', existing_type=sa.String(length=43), nullable=False)
            batch_op.create_unique_constraint(batch_op.f(f'uq_{table}_calendar_token'), ['calendar_token'])



def downgrade():
    for table in ('client_login', 'staff_user'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(f'uq_{table}_calendar_token'), type_='unique')
            batch_op.drop_column('calendar_token')

    with op.batch_alter_table('site_settings', schema=None) as batch_op:
        batch_op.drop_column('cancellation_hours')

    with op.batch_alter_table('client_profile', schema=None) as batch_op:
        batch_op.drop_column('activated_reason')
        batch_op.drop_column('activated_at')

    with op.batch_alter_table('visit_pet', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_visit_pet_pet_id'))

    op.drop_table('visit_pet')
    with op.batch_alter_table('visit', schema=None) as batch_op:
        batch_op.drop_index('ix_visit_sitter_day')
        batch_op.drop_index(batch_op.f('ix_visit_request_id'))
        batch_op.drop_index('ix_visit_day_starts')
        batch_op.drop_index('ix_visit_client_day')

    op.drop_table('visit')
    with op.batch_alter_table('visit_request', schema=None) as batch_op:
        batch_op.drop_index('ix_visit_request_status_created')
        batch_op.drop_index(batch_op.f('ix_visit_request_client_id'))

    op.drop_table('visit_request')
    with op.batch_alter_table('block_out', schema=None) as batch_op:
        batch_op.drop_index('ix_block_out_days')

    op.drop_table('block_out')
