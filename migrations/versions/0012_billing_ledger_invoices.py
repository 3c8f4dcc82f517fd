"""billing: invoices and their lines, payments, allocations, the client's ledger, reminders; the
business's details, billing options and late cancellation fees

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-25 22:45:00

Only tables and columns are added; no existing row changes but the settings row, which gets the
default reminder thresholds. Invoices, payments and ledger rows are never taken by a delete elsewhere:
every foreign key to them, and from them to clients and visits, restricts.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('invoice_sequence',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last_number', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('year', name=op.f('pk_invoice_sequence'))
    )
    op.create_table('invoice',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=20), nullable=True),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('draft', 'sent', 'partly_paid', 'paid', 'void', name='invoicestatus', native_enum=False, length=12), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=True),
    sa.Column('period_end', sa.Date(), nullable=True),
    sa.Column('issued_on', sa.Date(), nullable=True),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('terms_days', sa.Integer(), nullable=False),
    sa.Column('tax_rate_bp', sa.Integer(), nullable=False),
    sa.Column('tax_label', sa.String(length=40), nullable=False),
    sa.Column('subtotal_cents', sa.Integer(), nullable=False),
    sa.Column('tax_cents', sa.Integer(), nullable=False),
    sa.Column('total_cents', sa.Integer(), nullable=False),
    sa.Column('paid_cents', sa.Integer(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('voided_by_id', sa.Integer(), nullable=True),
    sa.Column('void_reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['client_profile.id'], name=op.f('fk_invoice_client_id_client_profile'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['created_by_id'], ['staff_user.id'], name=op.f('fk_invoice_created_by_id_staff_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['voided_by_id'], ['staff_user.id'], name=op.f('fk_invoice_voided_by_id_staff_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice')),
    sa.UniqueConstraint('number', name=op.f('uq_invoice_number'))
    )
    with op.batch_alter_table('invoice', schema=None) as batch_op:
        batch_op.create_index('ix_invoice_client_issued', ['client_id', 'issued_on'], unique=False)
        batch_op.create_index('ix_invoice_issued', ['issued_on'], unique=False)
        batch_op.create_index('ix_invoice_status_due', ['status', 'due_on'], unique=False)

    op.create_table('payment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.Column('reference', sa.String(length=80), nullable=False),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('refunded_cents', sa.Integer(), nullable=False),
    sa.Column('allocated_cents', sa.Integer(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('auto_apply', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['client_id'], ['client_profile.id'], name=op.f('fk_payment_client_id_client_profile'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['created_by_id'], ['staff_user.id'], name=op.f('fk_payment_created_by_id_staff_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment'))
    )
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.create_index('ix_payment_client_received', ['client_id', 'received_on'], unique=False)

    op.create_table('allocation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoice.id'], name=op.f('fk_allocation_invoice_id_invoice'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['payment_id'], ['payment.id'], name=op.f('fk_allocation_payment_id_payment'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_allocation'))
    )
    with op.batch_alter_table('allocation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_allocation_invoice_id'), ['invoice_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_allocation_payment_id'), ['payment_id'], unique=False)

    op.create_table('invoice_reminder',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('days', sa.Integer(), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoice.id'], name=op.f('fk_invoice_reminder_invoice_id_invoice'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_reminder')),
    sa.UniqueConstraint('invoice_id', 'days', name=op.f('uq_invoice_reminder_invoice_id'))
    )
    op.create_table('ledger_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=True),
    sa.Column('payment_id', sa.Integer(), nullable=True),
    sa.Column('reverses_id', sa.Integer(), nullable=True),
    sa.Column('memo', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['client_id'], ['client_profile.id'], name=op.f('fk_ledger_entry_client_id_client_profile'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['created_by_id'], ['staff_user.id'], name=op.f('fk_ledger_entry_created_by_id_staff_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoice.id'], name=op.f('fk_ledger_entry_invoice_id_invoice'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['payment_id'], ['payment.id'], name=op.f('fk_ledger_entry_payment_id_payment'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['reverses_id'], ['ledger_entry.id'], name=op.f('fk_ledger_entry_reverses_id_ledger_entry')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_entry')),
    sa.UniqueConstraint('reverses_id', name=op.f('uq_ledger_entry_reverses_id'))
    )
    with op.batch_alter_table('ledger_entry', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_entry_client_at', ['client_id', 'at', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_entry_invoice_id'), ['invoice_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_entry_payment_id'), ['payment_id'], unique=False)

    op.create_table('invoice_line',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=True),
    sa.Column('billed_visit_id', sa.Integer(), nullable=True),
    sa.Column('day', sa.Date(), nullable=True),
    sa.Column('description', sa.String(length=300), nullable=False),
    sa.Column('pets', sa.String(length=300), nullable=False),
    sa.Column('percent_bp', sa.Integer(), nullable=True),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('tax_cents', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['billed_visit_id'], ['visit.id'], name=op.f('fk_invoice_line_billed_visit_id_visit'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoice.id'], name=op.f('fk_invoice_line_invoice_id_invoice'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['visit_id'], ['visit.id'], name=op.f('fk_invoice_line_visit_id_visit'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_line')),
    sa.UniqueConstraint('billed_visit_id', 'kind', name='uq_invoice_line_billed_visit')
    )
    with op.batch_alter_table('invoice_line', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoice_line_invoice_id'), ['invoice_id'], unique=False)
        batch_op.create_index('ix_invoice_line_visit', ['visit_id'], unique=False)

    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attachments', sa.JSON(), nullable=True))

    with op.batch_alter_table('site_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('business_name', sa.String(length=160), nullable=True))
        batch_op.add_column(sa.Column('business_address', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('business_phone', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('business_email', sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column('business_tax_number', sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column('business_website', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('business_logo', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('billing_mode', sa.String(length=12), server_default='cycle', nullable=False))
        batch_op.add_column(sa.Column('billing_cycle', sa.String(length=12), server_default='monthly', nullable=False))
        batch_op.add_column(sa.Column('billing_cycle_day', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('billing_cycle_anchor', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('payment_terms_days', sa.Integer(), server_default='14', nullable=False))
        batch_op.add_column(sa.Column('tax_rate_bp', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('tax_label', sa.String(length=40), server_default='Tax', nullable=False))
        batch_op.add_column(sa.Column('reminder_days', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('how_to_pay', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('late_fee_tiers', sa.JSON(), nullable=True))

    # The settings row (if there is one yet) gets the defaults a new install starts with: reminders 7 and 30
    # days after the due date, and no late cancellation fees until the owner sets tiers.
    settings = sa.table('site_settings', sa.column('reminder_days', sa.JSON), sa.column('late_fee_tiers', sa.JSON))
    op.get_bind().execute(settings.update().values(reminder_days=[7, 30], late_fee_tiers=[]))
    with op.batch_alter_table('site_settings', schema=None) as batch_op:
        batch_op.alter_column('reminder_days', existing_type=sa.JSON(), nullable=False)
        batch_op.alter_column('late_fee_tiers', existing_type=sa.JSON(), nullable=False)

    with op.batch_alter_table('visit', schema=None) as batch_op:
        batch_op.add_column(sa.Column('late_fee_cents', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('fee_waived_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('fee_waived_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('fee_waive_reason', sa.Text(), server_default='', nullable=False))
        batch_op.create_foreign_key(batch_op.f('fk_visit_fee_waived_by_id_staff_user'), 'staff_user', ['fee_waived_by_id'], ['id'], ondelete='SET NULL')



def downgrade():
    with op.batch_alter_table('visit', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_visit_fee_waived_by_id_staff_user'), type_='foreignkey')
        batch_op.drop_column('fee_waive_reason')
        batch_op.drop_column('fee_waived_by_id')
        batch_op.drop_column('fee_waived_at')
        batch_op.drop_column('late_fee_cents')

    with op.batch_alter_table('site_settings', schema=None) as batch_op:
        batch_op.drop_column('late_fee_tiers')
        batch_op.drop_column('how_to_pay')
        batch_op.drop_column('reminder_days')
        batch_op.drop_column('tax_label')
        batch_op.drop_column('tax_rate_bp')
        batch_op.drop_column('payment_terms_days')
        batch_op.drop_column('billing_cycle_anchor')
        batch_op.drop_column('billing_cycle_day')
        batch_op.drop_column('billing_cycle')
        batch_op.drop_column('billing_mode')
        batch_op.drop_column('business_logo')
        batch_op.drop_column('business_website')
        batch_op.drop_column('business_tax_number')
        batch_op.drop_column('business_email')
        batch_op.drop_column('business_phone')
        batch_op.drop_column('business_address')
        batch_op.drop_column('business_name')

    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_column('attachments')

    with op.batch_alter_table('invoice_line', schema=None) as batch_op:
        batch_op.drop_index('ix_invoice_line_visit')
        batch_op.drop_index(batch_op.f('ix_invoice_line_invoice_id'))

    op.drop_table('invoice_line')
    with op.batch_alter_table('ledger_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_entry_payment_id'))
        batch_op.drop_index(batch_op.f('ix_ledger_entry_invoice_id'))
        batch_op.drop_index('ix_ledger_entry_client_at')

    op.drop_table('ledger_entry')
    op.drop_table('invoice_reminder')
    with op.batch_alter_table('allocation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_allocation_payment_id'))
        batch_op.drop_index(batch_op.f('ix_allocation_invoice_id'))

    op.drop_table('allocation')
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.drop_index('ix_payment_client_received')

    op.drop_table('payment')
    with op.batch_alter_table('invoice', schema=None) as batch_op:
        batch_op.drop_index('ix_invoice_status_due')
        batch_op.drop_index('ix_invoice_issued')
        batch_op.drop_index('ix_invoice_client_issued')

    op.drop_table('invoice')
    op.drop_table('invoice_sequence')
