"""Search and pagination shared by every list (panel pages, bot typeaheads, exports)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from math import ceil
from typing import Generic, TypeVar

from sqlalchemy import ColumnElement, ColumnExpressionArgument, func, or_

from hub.errors import InvalidInput

T = TypeVar("T")

PER_PAGE = 50
MIN_SEARCH = 3


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    number: int  # 1-based
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, ceil(self.total / self.per_page))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def search_term(raw: str | None) -> str | None:
    """None for no search; the trimmed term from 3 characters (seed 003 §2); refused in between."""
    term = (raw or "").strip()
    if not term:
        return None
    if len(term) < MIN_SEARCH:
        raise InvalidInput(
            f"search needs {MIN_SEARCH} characters",
            field="q",
            key="search.too_short",
            minimum=MIN_SEARCH,
        )
    return term


def contains(term: str, *columns: ColumnExpressionArgument[str]) -> ColumnElement[bool]:
    """Any of ``columns`` contains ``term``, case-insensitively, wildcards taken literally: the
    search box of every list (a dossier's code or name, a person's name or email)."""
    pattern = like_pattern(term)
    return or_(*(func.lower(column).like(pattern, escape="\\") for column in columns))


def like_pattern(term: str) -> str:
    """A case-insensitive ``LIKE`` pattern matching the term anywhere, with wildcards escaped."""
    escaped = term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def page_number(raw: str | int | None) -> int:
    try:
        return max(1, int(raw or 1))
    except (TypeError, ValueError):
        return 1


def filter_day(raw: Mapping[str, str], name: str, key: str) -> date | None:
    """A list filter's date (``YYYY-MM-DD``, as an ``<input type=date>`` sends it); empty is no
    filter, anything else is the person's to fix (``key`` says so in their language)."""
    value = raw.get(name, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"bad date {value!r}", field=name, key=key) from None
