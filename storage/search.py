"""The search index on document names (migration 0006), kept outside the models.

SQLite: ``document_name_fts``, an FTS5 table with the ``trigram`` tokenizer over ``document.name``
(external content: it stores only the index, ``rowid`` = ``document.id``), kept in step by three
triggers on ``document``. PostgreSQL: the GIN index ``ix_document_name_trgm`` on ``lower(name)``
(``pg_trgm``), which the plain ``lower(name) LIKE '%…%'`` uses by itself.

Neither is a model (SQLAlchemy cannot describe a virtual table or its triggers), so the check that
the migrations build the models' schema leaves them out with :func:`include_name`.
"""

from __future__ import annotations

from sqlalchemy import Integer, String, TableClause, column, table

FTS_TABLE = "document_name_fts"
TRGM_INDEX = "ix_document_name_trgm"
# A trigram index only helps from three characters (FTS5 finds nothing shorter).
MIN_INDEXED = 3

document_name_fts: TableClause = table(FTS_TABLE, column("rowid", Integer), column("name", String))


def fts_phrase(term: str) -> str:
    """The term as one FTS5 phrase: with the trigram tokenizer a phrase matches any substring,
    and inside double quotes ``*``, ``-``, ``:``, ``^`` and the like are plain characters."""
    return '"' + term.replace('"', '""') + '"'


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """For Alembic's comparison (autogenerate and the migrations test): skip the search index —
    the FTS5 table and its shadow tables on SQLite, the trigram index on PostgreSQL."""
    if type_ == "table":
        return not (name or "").startswith(FTS_TABLE)
    return not (type_ == "index" and name == TRGM_INDEX)
