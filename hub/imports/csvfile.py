"""Reading the CSV files people upload (dossier, staff and contact imports; connection imports).

Format: UTF-8 (with or without BOM), a header row, ``;`` or ``,`` between cells (detected from the
header, since French Excel writes ``;``). Lines whose first cell starts with ``#`` are comments (the
templates document their columns that way). Every bad line is noted with its number and reason, so
one report lists them all (:class:`~hub.errors.ImportRejected`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from hub.errors import ImportRejected, InvalidInput, has_control_character

MAX_IMPORT_BYTES = 10 * 1024 * 1024
# Below SQLite's and asyncpg's bound-parameter limits, so an IN (...) never overflows.
CHUNK = 5000


class Reason(str):
    """Why a line is refused: English text (for the terminal and logs) plus a message key and
    values, so each face can say it in the person's language."""

    key: str
    values: dict[str, Any]

    def __new__(cls, text: str, key: str, **values: Any) -> Reason:
        self = super().__new__(cls, text)
        self.key = key
        self.values = values
        return self


class Problems:
    """The bad lines of one file; ``prefix`` starts their message keys (``import.reason``)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.items: list[tuple[int, str]] = []

    def add(self, line: int, text: str, key: str, **values: Any) -> None:
        self.items.append((line, Reason(text, f"{self.prefix}.{key}", **values)))

    def raise_if_any(self) -> None:
        if self.items:
            raise ImportRejected(sorted(self.items, key=lambda item: item[0]))


def chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    """``values`` in slices of at most ``CHUNK``, for the IN (...) of bulk statements."""
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def decode(data: bytes, problems: Problems) -> str:
    if len(data) > MAX_IMPORT_BYTES:
        raise InvalidInput(
            "file over 10 MB", field="file", key="import.too_large", limit_mb=MAX_IMPORT_BYTES >> 20
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ImportRejected(
            [(line, Reason("not UTF-8 text", f"{problems.prefix}.not_utf8"))]
        ) from None


def _separator(header: str) -> str:
    return ";" if header.count(";") >= header.count(",") and ";" in header else ","


def read(
    data: bytes, problems: Problems, check_header: Callable[[list[str], int], None]
) -> list[tuple[int, dict[str, str]]]:
    """(line, {column: cell}) per data line. ``check_header(columns, line)`` notes the header's
    problems, which stop the reading; a bad line is noted in ``problems`` and left out."""
    text = decode(data, problems)
    header_line = 0
    header_text = ""
    # Numbered as csv.reader counts them (on "\n"), so reported line numbers agree.
    for number, raw_line in enumerate(io.StringIO(text), start=1):
        # Excel quotes a comment cell that holds the separator: "# ..." is still a comment.
        stripped = raw_line.strip().lstrip('"')
        if stripped and not stripped.startswith("#"):
            header_line, header_text = number, raw_line
            break
    if not header_line:
        problems.add(1, "the file has no header row", "no_header")
        problems.raise_if_any()

    # csv handles quoted cells (a name with a ";" in it, or a line break inside quotes).
    reader = csv.reader(io.StringIO(text), delimiter=_separator(header_text))
    rows: list[tuple[int, dict[str, str]]] = []
    columns: list[str] = []
    start = 1
    for cells in reader:
        line, start = start, reader.line_num + 1
        if line < header_line:
            continue
        if line == header_line:
            columns = [cell.strip().lower().lstrip("\ufeff") for cell in cells]
            check_header(columns, line)
            problems.raise_if_any()
            continue
        if not any(cell.strip() for cell in cells) or cells[0].strip().startswith("#"):
            continue
        if len(cells) > len(columns) and any(c.strip() for c in cells[len(columns) :]):
            problems.add(
                line,
                f"{len(cells)} cells but the header has {len(columns)}",
                "too_many_cells",
                cells=len(cells),
                columns=len(columns),
            )
            continue
        values = {
            column: (cells[i].strip() if i < len(cells) else "") for i, column in enumerate(columns)
        }
        if hidden := [column for column, cell in values.items() if has_control_character(cell)]:
            # NUL and its kind: invisible in Excel, and PostgreSQL cannot store NUL at all.
            problems.add(
                line,
                f"an invisible control character in {hidden[0]}",
                "control_character",
                column=hidden[0],
            )
            continue
        rows.append((line, values))
    return rows
