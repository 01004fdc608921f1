"""Reading an import file into rows, and the checks its cells share: the kinds and their columns,
the header, emails, required and bounded text, keys repeated within the file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources

from hub.errors import NotFound
from hub.imports.csvfile import Problems, read

KINDS = ("staff", "dossiers", "contacts")

COLUMNS: dict[str, tuple[str, ...]] = {
    "staff": ("email", "display_name", "role", "rights_manager", "entra_object_id"),
    "dossiers": ("code", "name", "status", "master_email", "engagement_manager_email"),
    "contacts": ("first_name", "last_name", "email", "phone", "dossier_codes"),
}
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "staff": ("email", "display_name"),
    "dossiers": ("code", "name"),
    "contacts": ("email",),
}

_EMAIL = re.compile(r"^[^@\s;,|<>]+@[^@\s;,|<>]+\.[^@\s;,|<>]+$")


@dataclass(frozen=True)
class ImportReport:
    kind: str
    created: int
    updated: int
    unchanged: int

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


@dataclass(frozen=True)
class Row:
    line: int
    cells: dict[str, str]

    def has(self, column: str) -> bool:
        return column in self.cells

    def get(self, column: str) -> str:
        return self.cells.get(column, "")


def template(kind: str) -> bytes:
    """The downloadable template: a BOM and ``;`` so French Excel opens it as columns."""
    check_kind(kind)
    return resources.files("hub.imports").joinpath("data", f"import-{kind}.csv").read_bytes()


def check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise NotFound(f"no import of {kind!r}", key="import.unknown_kind")


def read_rows(kind: str, data: bytes, problems: Problems) -> list[Row]:
    """Parse and check the shape (header, columns); the values are checked per kind. Bad lines
    are noted in ``problems`` and left out, so one report lists every line at once."""

    def check_header(columns: list[str], line: int) -> None:
        _check_header(kind, columns, line, problems)

    return [Row(line, cells) for line, cells in read(data, problems, check_header)]


def _check_header(kind: str, columns: list[str], line: int, problems: Problems) -> None:
    known = COLUMNS[kind]
    for column in REQUIRED_COLUMNS[kind]:
        if column not in columns:
            problems.add(line, f"missing required column {column}", "missing_column", column=column)
    seen: set[str] = set()
    for column in columns:
        if column and column not in known:
            problems.add(
                line,
                f"unknown column {column} (expected: {', '.join(known)})",
                "unknown_column",
                column=column,
                expected=", ".join(known),
            )
        elif column in seen:
            problems.add(line, f"column {column} appears twice", "duplicate_column", column=column)
        seen.add(column)


def email_cell(row: Row, column: str, problems: Problems, *, required: bool = False) -> str | None:
    """The lower-cased email, '' when empty, or None when invalid (already reported)."""
    value = row.get(column).lower()
    if not value:
        if required:
            problems.add(row.line, f"{column} is required", "required", column=column)
            return None
        return ""
    if len(value) > 320 or not _EMAIL.match(value):
        problems.add(
            row.line,
            f"invalid email {value!r} in {column}",
            "invalid_email",
            column=column,
            value=value,
        )
        return None
    return value


def required_cell(row: Row, column: str, problems: Problems, limit: int) -> str | None:
    if not row.get(column):
        problems.add(row.line, f"{column} is required", "required", column=column)
        return None
    return optional_cell(row, column, problems, limit)


def optional_cell(row: Row, column: str, problems: Problems, limit: int) -> str | None:
    value = row.get(column)
    if len(value) > limit:
        problems.add(
            row.line,
            f"{column} is longer than {limit} characters",
            "too_long",
            column=column,
            limit=limit,
        )
        return None
    return value


def duplicates(rows: Iterable[Row], key: str, problems: Problems, reason: str) -> set[int]:
    """Lines whose key repeats an earlier line's; both are the person's mistake, the later is named."""
    first: dict[str, int] = {}
    bad: set[int] = set()
    for row in rows:
        value = row.get(key).lower() if "email" in key else row.get(key)
        if not value:
            continue
        if value in first:
            problems.add(
                row.line,
                f"{key} {value} already on line {first[value]}",
                reason,
                value=value,
                first=first[value],
            )
            bad.add(row.line)
        else:
            first[value] = row.line
    return bad
