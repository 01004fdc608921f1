"""The search index on document names (migrations 0006 and 0009), kept outside the models.

Names are searched folded (:func:`fold_name`): accents dropped, case folded, the ligatures people
type spelled out, so that ``releve`` finds ``Relevé-0412.pdf``. The folding is one table
(:data:`FOLDING`) spelled three ways that agree character for character: in Python for what is
typed, and in each database's SQL for what is stored, so that the index holds folded names:

- SQLite: ``document_name_fts``, an FTS5 table with the ``trigram`` tokenizer over the view
  ``document_name_folded`` (``rowid`` = ``document.id``, ``name`` = the folded name: external
  content, it stores only the index), kept in step by triggers on ``document`` that read the
  view. SQLite's ``lower`` folds ASCII only; the accented letters are replaced by the views.
- PostgreSQL: the function ``relais_fold(text)`` (immutable, ``translate`` and ``replace``) and the
  GIN index ``ix_document_name_folded_trgm`` on ``relais_fold(name)`` (``pg_trgm``), which the
  query's ``relais_fold(name) LIKE '%…%'`` uses by itself.

Neither is a model (SQLAlchemy cannot describe a virtual table, a view or triggers), so the check
that the migrations build the models' schema leaves them out with :func:`include_name`.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from sqlalchemy import ColumnElement, Integer, String, TableClause, column, func, table

FTS_TABLE = "document_name_fts"
FOLDED_VIEW = "document_name_folded"
TRGM_INDEX = "ix_document_name_folded_trgm"
OLD_TRGM_INDEX = "ix_document_name_trgm"  # revision 0006's, on lower(name)
FOLD_FUNCTION = "relais_fold"
# A trigram index only helps from three characters (FTS5 finds nothing shorter).
MIN_INDEXED = 3

SQLITE_STEP = 25  # letters replaced per view (SQLite's parser stops short of 40 nested calls)

document_name_fts: TableClause = table(FTS_TABLE, column("rowid", Integer), column("name", String))
document_name_folded: TableClause = table(
    FOLDED_VIEW, column("id", Integer), column("name", String)
)

# Letters with accents as French, and the languages of clients' names, write them. Each folds to
# its first letter decomposed (é → e); ø and ł do not decompose and are given.
ACCENTED = (
    "àáâãäåāăąçćčďèéêëēėęěìíîïīįñńňòóôõöøōőùúûüūůűýÿžźżšśşłţ"
    "ÀÁÂÃÄÅĀĂĄÇĆČĎÈÉÊËĒĖĘĚÌÍÎÏĪĮÑŃŇÒÓÔÕÖØŌŐÙÚÛÜŪŮŰÝŸŽŹŻŠŚŞŁŢ"
)
_GIVEN = {"ø": "o", "Ø": "o", "ł": "l", "Ł": "l"}
LIGATURES = {"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae", "ß": "ss"}
FOLDING: dict[str, str] = {
    c: _GIVEN.get(c) or unicodedata.normalize("NFD", c)[0].lower() for c in ACCENTED
}
_TABLE = str.maketrans(
    {
        **{chr(c): chr(c + 32) for c in range(ord("A"), ord("Z") + 1)},
        **FOLDING,
        **LIGATURES,
    }
)


def fold_name(text: str) -> str:
    """``Relevé-ŒUVRE.pdf`` → ``releve-oeuvre.pdf``: the letters of :data:`FOLDING` and
    :data:`LIGATURES` replaced, ASCII letters in lower case, everything else as it is (the same
    as the databases' folding of the stored names, character for character)."""
    return text.translate(_TABLE)


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def sqlite_fold_views() -> list[str]:
    """The folding in SQLite's SQL: views over ``document`` that each replace a share of the
    letters (SQLite's parser refuses ``replace`` nested a hundred deep), the last of them
    :data:`FOLDED_VIEW` (``id``, the folded ``name``)."""
    pairs = [*FOLDING.items(), *LIGATURES.items()]
    steps = [pairs[i : i + SQLITE_STEP] for i in range(0, len(pairs), SQLITE_STEP)]
    statements, source = [], "document"
    for number, step in enumerate(steps, start=1):
        expression = "lower(name)" if number == 1 else "name"
        for letter, target in step:
            expression = f"replace({expression}, {_sql_string(letter)}, {_sql_string(target)})"
        view = FOLDED_VIEW if number == len(steps) else f"{FOLDED_VIEW}_{number}"
        statements.append(f"CREATE VIEW {view} AS SELECT id, {expression} AS name FROM {source}")
        source = view
    return statements


def sqlite_fold_view_names() -> list[str]:
    """The views of :func:`sqlite_fold_views`, the last first (the order to drop them)."""
    count = -(-(len(FOLDING) + len(LIGATURES)) // SQLITE_STEP)
    return [FOLDED_VIEW, *(f"{FOLDED_VIEW}_{n}" for n in range(count - 1, 0, -1))]


def postgresql_fold_function() -> str:
    """``relais_fold(text)``: the folding in PostgreSQL's SQL. Immutable, so that an index can be
    built on it; ``translate`` maps one letter to one, the ligatures are replaced after."""
    sources = "".join(chr(c) for c in range(ord("A"), ord("Z") + 1)) + "".join(FOLDING)
    targets = "".join(chr(c) for c in range(ord("a"), ord("z") + 1)) + "".join(FOLDING.values())
    body = f"translate($1, {_sql_string(sources)}, {_sql_string(targets)})"
    for source, target in LIGATURES.items():
        body = f"replace({body}, {_sql_string(source)}, {_sql_string(target)})"
    return (
        f"CREATE OR REPLACE FUNCTION {FOLD_FUNCTION}(text) RETURNS text "
        f"LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ SELECT {body} $$"
    )


def folded(dialect: str, name: Any) -> ColumnElement[str]:
    """The stored name folded, as PostgreSQL's query compares it (the index's expression)."""
    assert dialect == "postgresql", "SQLite reads the folded names from its view"
    return getattr(func, FOLD_FUNCTION)(name)


def fts_all(words: list[str]) -> str:
    """Every word as its own FTS5 phrase, all required: with the trigram tokenizer a phrase
    matches any substring, and inside double quotes ``*``, ``-``, ``:``, ``^`` and the like are
    plain characters."""
    return " AND ".join(fts_phrase(word) for word in words)


def fts_phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """For Alembic's comparison (autogenerate and the migrations test): skip the search index —
    the FTS5 table, its shadow tables and the view on SQLite, the trigram index on PostgreSQL."""
    if type_ == "table":
        return not (name or "").startswith((FTS_TABLE, FOLDED_VIEW))
    return not (type_ == "index" and name in (TRGM_INDEX, OLD_TRGM_INDEX))
