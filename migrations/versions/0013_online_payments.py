"""online payments through Stripe: payments started online, tips, refunds and disputes learnt from Stripe,
autopay attempts; the client's autopay consent and the site's online payment options

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26 02:13:50

Only tables and columns are added; no existing row changes but the settings row, which gets the default
tip percentages and autopay retry days. Like the ledger, nothing here is taken by a delete elsewhere: every
foreign key to payments, invoices and clients restricts.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('online_payment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=80), nullable=False),
    sa.Column('content_key', sa.String(length=80), nullable=False),
    sa.Column('stripe_intent_id', sa.String(length=255), nullable=True),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('tip_cents', sa.Integer(), nullable=False),
    sa.Column('tip_refunded_cents', sa.Integer(), nullable=False),
    sa.Column('plan', sa.JSON(), nullable=False),
    sa.Column('method_kind', sa.String(length=20), nullable=False),
    sa.Column('method_label', sa.String(length=80), nullable=False),
    sa.Column('detach_after', sa.Boolean(), nullable=False),
    sa.Column('failure_message', sa.Text(), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('authorisation', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['client_profile.id'], name=op.f('fk_online_payment_client_id_client_profile'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['created_by_id'], ['staff_user.id'], name=op.f('fk_online_payment_created_by_id_staff_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['payment_id'], ['payment.id'], name=op.f('fk_online_payment_payment_id_payment'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_online_payment')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_online_payment_idempotency_key')),
    sa.UniqueConstraint('payment_id', name=op.f('uq_online_payment_payment_id')),
    sa.UniqueConstraint('stripe_intent_id', name=op.f('uq_online_payment_stripe_intent_id'))
    )
    with op.batch_alter_table('online_payment', schema=None) as batch_op:
        batch_op.create_index('ix_online_payment_client_created', ['client_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_online_payment_content_key'), ['content_key'], unique=False)
        batch_op.create_index('ix_online_payment_status', ['status'], unique=False)

    op.create_table('stripe_dispute',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=True),
    sa.Column('client_id', sa.Integer(), nullable=True),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=60), nullable=False),
    sa.Column('status', sa.String(length=40), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['client_profile.id'], name=op.f('fk_stripe_dispute_client_id_client_profile'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['payment_id'], ['payment.id'], name=op.f('fk_stripe_dispute_payment_id_payment'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stripe_dispute'))
    )
    with op.batch_alter_table('stripe_dispute', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stripe_dispute_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_stripe_dispute_payment_id'), ['payment_id'], unique=False)

    op.create_table('tip',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=False),
    sa.Column('sitter_id', sa.Integer(), nullable=True),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['payment_id'], ['payment.id'], name=op.f('fk_tip_payment_id_payment'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['sitter_id'], ['staff_user.id'], name=op.f('fk_tip_sitter_id_staff_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tip'))
    )
    with op.batch_alter_table('tip', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tip_payment_id'), ['payment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tip_sitter_id'), ['sitter_id'], unique=False)

    op.create_table('autopay_attempt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('online_payment_id', sa.Integer(), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('next_try_on', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoice.id'], name=op.f('fk_autopay_attempt_invoice_id_invoice'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['online_payment_id'], ['online_payment.id'], name=op.f('fk_autopay_attempt_online_payment_id_online_payment'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_autopay_attempt')),
    sa.UniqueConstraint('invoice_id', 'attempt', name='uq_autopay_attempt_invoice')
    )
    with op.batch_alter_table('autopay_attempt', schema=None) as batch_op:
        batch_op.create_index('ix_autopay_attempt_next', ['status', 'next_try_on'], unique=False)

    op.create_table('stripe_refund',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('ledger_entry_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['ledger_entry_id'], ['ledger_entry.id'], name=op.f('fk_stripe_refund_ledger_entry_id_ledger_entry'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['payment_id'], ['payment.id'], name=op.f('fk_stripe_refund_payment_id_payment'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stripe_refund')),
    sa.UniqueConstraint('ledger_entry_id', name=op.f('uq_stripe_refund_ledger_entry_id'))
    )
    with op.batch_alter_table('stripe_refund', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stripe_refund_payment_id'), ['payment_id'], unique=False)

    with op.batch_alter_table('client_profile', schema=None) as batch_op:
        batch_op.add_column(sa.Column('autopay', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('autopay_consent_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('autopay_consent_text', sa.Text(), server_default='', nullable=False))

    with op.batch_alter_table('site_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('online_payments', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('tips_enabled', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('tip_percents', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('autopay_mode', sa.String(length=10), server_default='offered', nullable=False))
        batch_op.add_column(sa.Column('autopay_retry_days', sa.JSON(), nullable=True))

    # The settings row (if there is one yet) gets what a new install starts with: tips of 10, 15 or 20%
    # offered, and a failed autopay charge tried again 1, 3 and 7 days later.
    settings = sa.table('site_settings', sa.column('tip_percents', sa.JSON), sa.column('autopay_retry_days', sa.JSON))
    op.get_bind().execute(settings.update().values(tip_percents=[10, 15, 20], autopay_retry_days=[1, 3, 7]))
    with op.batch_alter_table('site_settings', schema=None) as batch_op:
        batch_op.alter_column('tip_percents', existing_type=sa.JSON(), nullable=False)
        batch_op.alter_column('autopay_retry_days', existing_type=sa.JSON(), nullable=False)


def downgrade():
    with op.batch_alter_table('site_settings', schema=None) as batch_op:
        batch_op.drop_column('autopay_retry_days')
        batch_op.drop_column('autopay_mode')
        batch_op.drop_column('tip_percents')
        batch_op.drop_column('tips_enabled')
        batch_op.drop_column('online_payments')

    with op.batch_alter_table('client_profile', schema=None) as batch_op:
        batch_op.drop_column('autopay_consent_text')
        batch_op.drop_column('autopay_consent_at')
        batch_op.drop_column('autopay')

    with op.batch_alter_table('stripe_refund', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stripe_refund_payment_id'))

    op.drop_table('stripe_refund')
    with op.batch_alter_table('autopay_attempt', schema=None) as batch_op:
        batch_op.drop_index('ix_autopay_attempt_next')

    op.drop_table('autopay_attempt')
    with op.batch_alter_table('tip', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tip_sitter_id'))
        batch_op.drop_index(batch_op.f('ix_tip_payment_id'))

    op.drop_table('tip')
    with op.batch_alter_table('stripe_dispute', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stripe_dispute_payment_id'))
        batch_op.drop_index(batch_op.f('ix_stripe_dispute_client_id'))

    op.drop_table('stripe_dispute')
    with op.batch_alter_table('online_payment', schema=None) as batch_op:
        batch_op.drop_index('ix_online_payment_status')
        batch_op.drop_index(batch_op.f('ix_online_payment_content_key'))
        batch_op.drop_index('ix_online_payment_client_created')

    op.drop_table('online_payment')
