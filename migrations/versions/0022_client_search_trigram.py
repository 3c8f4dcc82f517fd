"""client search trigram: on PostgreSQL, a trigram index for the client search's LIKE '%word%'

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-26 23:00:00

PostgreSQL only; SQLite is left as it is. The search reads `search_text COLLATE "C" LIKE '%smi%'`, which no b-tree
can answer: it read every client's row (3–5 ms over 10,000 clients, the most of a search's time). A GIN index of
the text's trigrams (the pg_trgm extension, shipped with PostgreSQL) finds the matching rows instead.

pg_trgm is a trusted extension since PostgreSQL 13: the database's owner may create it. Where it cannot be created
(an older server, or a role without CREATE on the database), the upgrade goes on without the index, and says so:
the search finds the same clients, only more slowly. No row is changed.
"""
import logging

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    try:
        with bind.begin_nested():  # a refusal undoes only this, not the upgrade's transaction
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            # Named with the extension's schema: one a DBA installed outside this database's search path is found
            # all the same (and one in a schema this role may not use is refused here, not the upgrade).
            schema = bind.exec_driver_sql(
                "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'").scalar()
            bind.exec_driver_sql('CREATE INDEX IF NOT EXISTS ix_client_profile_search_trigram ON client_profile '
                                 f'USING gin ((search_text COLLATE "C") {schema}.gin_trgm_ops)')
    except sa.exc.DBAPIError as error:
        log.warning("The client search's trigram index was not made (%s): the search works without it, more "
                    "slowly. A superuser can run CREATE EXTENSION pg_trgm, then `flask db downgrade 0021` and "
                    "`flask db upgrade`.", (str(error.orig).strip().splitlines() or [repr(error)])[0])


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute('DROP INDEX IF EXISTS ix_client_profile_search_trigram')
