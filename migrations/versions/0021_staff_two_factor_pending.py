"""staff two factor pending: the secret being set up is kept on the staff row until a code confirms it (or it
expires), no longer in the session cookie

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-26 08:30:00

Only two nullable columns are added; no existing row changes. A setup begun before the upgrade (its secret in the
browser's session) is not carried over: the setup page shows a new key, which is then kept here.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('staff_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('totp_pending_secret', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('totp_pending_until', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('staff_user', schema=None) as batch_op:
        batch_op.drop_column('totp_pending_until')
        batch_op.drop_column('totp_pending_secret')
