"""staff invited without a password, clients welcomed once, history kept when a client or pet is deleted

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 18:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

# Visits, requests and form answers no longer go with their client or pet: the database refuses.
HISTORY = [
    ('visit', 'client_id', 'client_profile'),
    ('visit_request', 'client_id', 'client_profile'),
    ('form_response', 'client_id', 'client_profile'),
    ('form_response', 'pet_id', 'pet'),
    ('visit_pet', 'pet_id', 'pet'),
]


def _on_delete(rule: str) -> None:
    for table, column, parent in HISTORY:
        name = f'fk_{table}_{column}_{parent}'
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(name, type_='foreignkey')
            batch_op.create_foreign_key(name, parent, [column], ['id'], ondelete=rule)


def upgrade():
    with op.batch_alter_table('staff_user', schema=None) as batch_op:
        batch_op.alter_column('password_hash', existing_type=sa.String(length=255), nullable=True)

    with op.batch_alter_table('client_login', schema=None) as batch_op:
        batch_op.add_column(sa.Column('welcomed_at', sa.DateTime(timezone=True), nullable=True))
    # Clients who had finished getting started before this release are not welcomed again.
    login = sa.table('client_login', sa.column('client_id', sa.Integer), sa.column('welcomed_at', sa.DateTime))
    profile = sa.table('client_profile', sa.column('id', sa.Integer), sa.column('onboarding_complete', sa.Boolean))
    finished = sa.select(profile.c.id).where(profile.c.onboarding_complete.is_(True))
    op.get_bind().execute(login.update().where(login.c.client_id.in_(finished)).values(welcomed_at=sa.func.now()))

    # One spelling per species: an import wrote "dog" beside "Dog" (today's code writes "Dog" for both).
    pet = sa.table('pet', sa.column('species', sa.String))
    op.get_bind().execute(pet.update().where(pet.c.species == sa.func.lower(pet.c.species))
                          .values(species=sa.func.upper(sa.func.substr(pet.c.species, 1, 1))
                                  .op('||')(sa.func.substr(pet.c.species, 2))))

    _on_delete('RESTRICT')


def downgrade():
    _on_delete('CASCADE')
    with op.batch_alter_table('client_login', schema=None) as batch_op:
        batch_op.drop_column('welcomed_at')
    with op.batch_alter_table('staff_user', schema=None) as batch_op:
        batch_op.alter_column('password_hash', existing_type=sa.String(length=255), nullable=False)
