"""A trigram index on document names, for the bot's ``history <part of a name>`` (issue 6).

``lower(name) LIKE '%term%'`` cannot use a B-tree, so a rare name read every document name of the
firm (500,000 in the bench: 160–250 ms). What :mod:`storage.search` describes:

- SQLite: the FTS5 table ``document_name_fts`` with ``tokenize='trigram'``, external content on
  ``document`` (``rowid`` = ``document.id``; only the index is stored), filled here from the
  existing rows and kept in step by the triggers ``document_name_fts_ai`` / ``_ad`` / ``_au`` on
  insert, delete (cascades from a dossier or a firm included) and rename. The ``trigram`` tokenizer
  needs SQLite 3.34 or later. A later migration that rebuilds ``document`` in batch mode drops
  these triggers with the old table: it must create them again (:func:`create_triggers`).
- PostgreSQL: the ``pg_trgm`` extension and the GIN index ``ix_document_name_trgm`` on
  ``lower(name) gin_trgm_ops``, which the query's ``lower(name) LIKE '%…%'`` uses as it is.
  Creating the extension needs the right to: see :data:`NO_TRGM`.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

FTS = "document_name_fts"
TRGM_INDEX = "ix_document_name_trgm"

NO_TRGM = (
    "Relais migration 0006 needs the PostgreSQL extension pg_trgm (the search by document name) "
    "and could not create it: {reason}. Ask the server's administrator to make it available and "
    "run, in this database, `CREATE EXTENSION IF NOT EXISTS pg_trgm;` (on Azure Database for "
    "PostgreSQL, first add PG_TRGM to the server parameter azure.extensions; on Amazon RDS a "
    "user with rds_superuser may run it), then run `relais db upgrade` again. Nothing was changed."
)


def create_triggers() -> None:
    """The triggers that keep the SQLite FTS table in step with ``document``. The ``delete``
    command of an external-content FTS5 table must be given the old name exactly."""
    op.execute(
        f"CREATE TRIGGER {FTS}_ai AFTER INSERT ON document BEGIN "
        f"INSERT INTO {FTS}(rowid, name) VALUES (new.id, new.name); END"
    )
    op.execute(
        f"CREATE TRIGGER {FTS}_ad AFTER DELETE ON document BEGIN "
        f"INSERT INTO {FTS}({FTS}, rowid, name) VALUES ('delete', old.id, old.name); END"
    )
    op.execute(
        f"CREATE TRIGGER {FTS}_au AFTER UPDATE OF id, name ON document BEGIN "
        f"INSERT INTO {FTS}({FTS}, rowid, name) VALUES ('delete', old.id, old.name); "
        f"INSERT INTO {FTS}(rowid, name) VALUES (new.id, new.name); END"
    )


def _sqlite_upgrade(bind: Connection | None) -> None:
    fts = (
        f"CREATE VIRTUAL TABLE {FTS} USING fts5("
        "name, content='document', content_rowid='id', tokenize='trigram')"
    )
    if bind is None:  # offline (``--sql``): the statements only
        op.execute(fts)
    else:
        try:
            bind.exec_driver_sql(fts)
        except DBAPIError as error:
            version = bind.exec_driver_sql("SELECT sqlite_version()").scalar()
            raise RuntimeError(
                "Relais migration 0006 needs SQLite 3.34 or later with FTS5 (the trigram "
                f"tokenizer); this one is SQLite {version}: {error.orig}. Upgrade SQLite (or "
                "Python), then run `relais db upgrade` again."
            ) from error
    create_triggers()
    op.execute(f"INSERT INTO {FTS}({FTS}) VALUES ('rebuild')")


def _postgresql_upgrade(bind: Connection | None) -> None:
    if bind is None:  # offline (``--sql``): the statements only
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    else:
        _create_pg_trgm(bind)
    op.create_index(
        TRGM_INDEX,
        "document",
        [sa.text("lower(name) gin_trgm_ops")],
        unique=False,
        postgresql_using="gin",
    )


def _create_pg_trgm(bind: Connection) -> None:
    installed = bind.execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'"))
    if installed.first() is None:
        available = bind.execute(
            sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
        )
        if available.first() is None:
            raise RuntimeError(NO_TRGM.format(reason="it is not installed on this server"))
        try:
            # A savepoint: a refusal must not leave the migration's transaction aborted.
            with bind.begin_nested():
                bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
        except DBAPIError as error:
            raise RuntimeError(NO_TRGM.format(reason=str(error.orig).strip())) from error


def _online_bind() -> Connection | None:
    return None if op.get_context().as_sql else op.get_bind()


def upgrade() -> None:
    dialect = op.get_context().dialect.name
    if dialect == "sqlite":
        _sqlite_upgrade(_online_bind())
    elif dialect == "postgresql":
        _postgresql_upgrade(_online_bind())


def downgrade() -> None:
    dialect = op.get_context().dialect.name
    if dialect == "sqlite":
        for suffix in ("ai", "ad", "au"):
            op.execute(f"DROP TRIGGER IF EXISTS {FTS}_{suffix}")
        op.execute(f"DROP TABLE IF EXISTS {FTS}")
    elif dialect == "postgresql":
        op.drop_index(TRGM_INDEX, table_name="document")
        bind = _online_bind()
        if bind is None:
            return
        try:
            # Left in place when something else uses it (or the user may not drop it).
            with bind.begin_nested():
                bind.execute(sa.text("DROP EXTENSION IF EXISTS pg_trgm RESTRICT"))
        except DBAPIError:
            pass
