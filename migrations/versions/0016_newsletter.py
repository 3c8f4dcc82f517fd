"""the newsletter: subscribers (double opt-in, a per-subscriber unsubscribe token), campaigns and one delivery row
per recipient (its outbox message); outbox messages may carry headers of their own (List-Unsubscribe)

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-26 05:08:30

Only tables and a nullable column are added; no existing row changes.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('newsletter_campaign',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('body_markdown', sa.Text(), nullable=False),
    sa.Column('audience', sa.String(length=16), nullable=False),
    sa.Column('territory_id', sa.Integer(), nullable=True),
    sa.Column('client_status', sa.String(length=16), nullable=True),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_by_id', sa.Integer(), nullable=True),
    sa.Column('recipient_count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['staff_user.id'], name=op.f('fk_newsletter_campaign_created_by_id_staff_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['sent_by_id'], ['staff_user.id'], name=op.f('fk_newsletter_campaign_sent_by_id_staff_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['territory_id'], ['territory.id'], name=op.f('fk_newsletter_campaign_territory_id_territory'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_newsletter_campaign'))
    )
    with op.batch_alter_table('newsletter_campaign', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_newsletter_campaign_created_by_id'), ['created_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_newsletter_campaign_sent_by_id'), ['sent_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_newsletter_campaign_territory_id'), ['territory_id'], unique=False)

    op.create_table('newsletter_subscriber',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('name', sa.String(length=160), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('confirm_nonce', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('unsubscribed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('unsubscribed_campaign_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['client_id'], ['client_profile.id'], name=op.f('fk_newsletter_subscriber_client_id_client_profile'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['unsubscribed_campaign_id'], ['newsletter_campaign.id'], name=op.f('fk_newsletter_subscriber_unsubscribed_campaign_id_newsletter_campaign'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_newsletter_subscriber')),
    sa.UniqueConstraint('email', name=op.f('uq_newsletter_subscriber_email')),
    sa.UniqueConstraint('token', name=op.f('uq_newsletter_subscriber_token'))
    )
    with op.batch_alter_table('newsletter_subscriber', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_newsletter_subscriber_client_id'), ['client_id'], unique=False)
        batch_op.create_index('ix_newsletter_subscriber_state_email', ['state', 'email'], unique=False)
        batch_op.create_index(batch_op.f('ix_newsletter_subscriber_unsubscribed_campaign_id'), ['unsubscribed_campaign_id'], unique=False)

    op.create_table('newsletter_delivery',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=True),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['newsletter_campaign.id'], name=op.f('fk_newsletter_delivery_campaign_id_newsletter_campaign'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['message_id'], ['outbox_message.id'], name=op.f('fk_newsletter_delivery_message_id_outbox_message'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['subscriber_id'], ['newsletter_subscriber.id'], name=op.f('fk_newsletter_delivery_subscriber_id_newsletter_subscriber'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_newsletter_delivery')),
    sa.UniqueConstraint('campaign_id', 'subscriber_id', name='uq_newsletter_delivery_campaign')
    )
    with op.batch_alter_table('newsletter_delivery', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_newsletter_delivery_message_id'), ['message_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_newsletter_delivery_subscriber_id'), ['subscriber_id'], unique=False)

    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('headers', sa.JSON(), nullable=True))



def downgrade():
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_column('headers')

    with op.batch_alter_table('newsletter_delivery', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_newsletter_delivery_subscriber_id'))
        batch_op.drop_index(batch_op.f('ix_newsletter_delivery_message_id'))

    op.drop_table('newsletter_delivery')
    with op.batch_alter_table('newsletter_subscriber', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_newsletter_subscriber_unsubscribed_campaign_id'))
        batch_op.drop_index('ix_newsletter_subscriber_state_email')
        batch_op.drop_index(batch_op.f('ix_newsletter_subscriber_client_id'))

    op.drop_table('newsletter_subscriber')
    with op.batch_alter_table('newsletter_campaign', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_newsletter_campaign_territory_id'))
        batch_op.drop_index(batch_op.f('ix_newsletter_campaign_sent_by_id'))
        batch_op.drop_index(batch_op.f('ix_newsletter_campaign_created_by_id'))

    op.drop_table('newsletter_campaign')
