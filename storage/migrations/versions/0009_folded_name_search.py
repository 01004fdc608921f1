"""The document-name index holds folded names (issue 13): ``historique releve`` finds
``Relevé-0412.pdf``, and each word of a search is its own condition on the index.

What :mod:`storage.search` describes, built from its folding table:

- SQLite: revision 0006's FTS5 table and triggers are replaced by the same over the view
  ``document_name_folded`` (``id``, the folded ``name``, through a few views that each fold some
  letters): the FTS table's external content is the view, so ``rebuild`` reads folded names, and
  the triggers read the row's folded name from the view.
- PostgreSQL: the immutable function ``relais_fold(text)``, and the GIN trigram index
  ``ix_document_name_folded_trgm`` on ``relais_fold(name)`` in place of 0006's on ``lower(name)``.

The folding is the one of :mod:`storage.search` when this revision runs; a later change to it is a
new revision that rebuilds the index.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.search import (
    FOLD_FUNCTION,
    FOLDED_VIEW,
    FTS_TABLE,
    OLD_TRGM_INDEX,
    TRGM_INDEX,
    postgresql_fold_function,
    sqlite_fold_view_names,
    sqlite_fold_views,
)

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

FTS = FTS_TABLE


def _drop_sqlite_index() -> None:
    for name in ("ai", "ad", "au", "bd", "bu"):
        op.execute(f"DROP TRIGGER IF EXISTS {FTS}_{name}")
    op.execute(f"DROP TABLE IF EXISTS {FTS}")


def _fts_table(content: str) -> None:
    op.execute(
        f"CREATE VIRTUAL TABLE {FTS} USING fts5("
        f"name, content='{content}', content_rowid='id', tokenize='trigram')"
    )


def _sqlite_folded_index() -> None:
    """The FTS5 table over the folded view, and triggers that read the view: the row's folded
    name after an insert or an update, and before a delete or an update the name that was
    indexed (the ``delete`` command must be given it exactly)."""
    _fts_table(FOLDED_VIEW)
    folded_new = f"SELECT id, name FROM {FOLDED_VIEW} WHERE id = new.id"
    delete_old = (
        f"INSERT INTO {FTS}({FTS}, rowid, name) SELECT 'delete', id, name FROM {FOLDED_VIEW} "
        "WHERE id = old.id"
    )
    op.execute(
        f"CREATE TRIGGER {FTS}_ai AFTER INSERT ON document BEGIN "
        f"INSERT INTO {FTS}(rowid, name) {folded_new}; END"
    )
    op.execute(f"CREATE TRIGGER {FTS}_bd BEFORE DELETE ON document BEGIN {delete_old}; END")
    op.execute(
        f"CREATE TRIGGER {FTS}_bu BEFORE UPDATE OF id, name ON document BEGIN {delete_old}; END"
    )
    op.execute(
        f"CREATE TRIGGER {FTS}_au AFTER UPDATE OF id, name ON document BEGIN "
        f"INSERT INTO {FTS}(rowid, name) {folded_new}; END"
    )
    op.execute(f"INSERT INTO {FTS}({FTS}) VALUES ('rebuild')")


def _sqlite_plain_index() -> None:
    """Revision 0006's: the names as they are, by the triggers it describes."""
    _fts_table("document")
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
    op.execute(f"INSERT INTO {FTS}({FTS}) VALUES ('rebuild')")


def upgrade() -> None:
    dialect = op.get_context().dialect.name
    if dialect == "sqlite":
        _drop_sqlite_index()
        for statement in sqlite_fold_views():
            op.execute(statement)
        _sqlite_folded_index()
    elif dialect == "postgresql":
        op.execute(postgresql_fold_function())
        op.drop_index(OLD_TRGM_INDEX, table_name="document")
        op.create_index(
            TRGM_INDEX,
            "document",
            [sa.text(f"{FOLD_FUNCTION}(name) gin_trgm_ops")],
            unique=False,
            postgresql_using="gin",
        )


def downgrade() -> None:
    dialect = op.get_context().dialect.name
    if dialect == "sqlite":
        _drop_sqlite_index()
        for view in sqlite_fold_view_names():
            op.execute(f"DROP VIEW IF EXISTS {view}")
        _sqlite_plain_index()
    elif dialect == "postgresql":
        op.drop_index(TRGM_INDEX, table_name="document")
        op.execute(f"DROP FUNCTION IF EXISTS {FOLD_FUNCTION}(text)")
        op.create_index(
            OLD_TRGM_INDEX,
            "document",
            [sa.text("lower(name) gin_trgm_ops")],
            unique=False,
            postgresql_using="gin",
        )
