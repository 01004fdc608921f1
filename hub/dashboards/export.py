"""The failures as a CSV file for French Excel, streamed page by page."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from hub.dashboards.failures import failures
from hub.dashboards.filters import FailureFilters
from hub.identity import Actor
from hub.services import Hub

EXPORT_PAGE = 1000
# Spreadsheet programs run a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """A cell a spreadsheet shows as text: one starting like a formula gets a leading quote."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


@dataclass(frozen=True)
class CsvLabels:
    """What the face puts in the file, in the reader's language."""

    header: Sequence[str]
    reason: Callable[[str], str]
    when: Callable[[datetime], str] = field(default=lambda at: at.strftime("%Y-%m-%d %H:%M:%S"))


async def failures_csv(
    hub: Hub, actor: Actor, filters: FailureFilters, labels: CsvLabels
) -> AsyncIterator[bytes]:
    """The failures matching the filters as CSV for French Excel (UTF-8 with BOM, ``;``), safe
    against formula injection, in chunks of :data:`EXPORT_PAGE` rows read by keyset: the export
    of a million rows holds one page in memory."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in labels.header])
    yield b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8")
    after: str | None = None
    while True:
        page = await failures(hub, actor, filters, after=after, per_page=EXPORT_PAGE)
        buffer.seek(0)
        buffer.truncate()
        for row in page.items:
            writer.writerow(
                [
                    safe_cell(v)
                    for v in (
                        labels.when(row.queued_at),
                        labels.when(row.failed_at) if row.failed_at else "",
                        row.dossier_code,
                        row.dossier_name,
                        row.document,
                        row.version,
                        row.application,
                        labels.reason(row.reason),
                        row.attempts,
                        row.detail,
                    )
                ]
            )
        if page.items:
            yield buffer.getvalue().encode("utf-8")
        if page.next_after is None:
            return
        after = page.next_after


CSV_COLUMNS = (
    "queued_at",
    "failed_at",
    "dossier_code",
    "dossier_name",
    "document",
    "version",
    "application",
    "reason",
    "attempts",
    "answer",
)
