"""The failed-sends and activity dashboards (seed 000 §4, DESIGN.md workflow 3), for the panel and
the bot's ``failures`` command.

Failed deliveries are read in keyset pages on ``(created_at, id)``, newest first, through the
``ix_delivery_firm_status_created`` index (``firm_id, status, created_at, id``): page 500 costs
what page 1 costs, with millions of deliveries. Filters on an application, a dossier or the
actor's portfolio become ``IN (…)`` subqueries on small tables (connections, dossiers). A failure is dated
by when its delivery was queued (the document's arrival), the date the list, the filters, the
trend and the export all share.

Rights are :func:`hub.history.visible_dossiers`; sending again is :func:`hub.history.retry`.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Date, and_, cast, func, literal_column, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.outcomes import FAILURE_REASONS
from hub.errors import InvalidInput, NotFound
from hub.history import (
    MAX_RETRY,
    RetryResult,
    application_label,
    as_utc,
    may_retry,
    must_utc,
    require_may_retry_somewhere,
    retry_deliveries,
    retryable,
    visible_dossier_ids,
    visible_dossiers,
)
from hub.identity import Actor
from hub.paging import filter_day
from hub.services import Hub
from storage.models import (
    CatalogApp,
    Connection,
    Delivery,
    DeliveryAttempt,
    Document,
    DocumentVersion,
    Dossier,
    FirmApplication,
)

PER_PAGE = 50
MAX_PER_PAGE = 1000
TREND_DAYS = 30
MAX_DAYS = 366
EXPORT_PAGE = 1000
# Spreadsheet programs run a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


# --------------------------------------------------------------------------- filters


@dataclass(frozen=True)
class FailureFilters:
    application: int | None = None  # a firm application's id
    dossier: str = ""  # a dossier code
    reason: str = ""  # one of connectors.outcomes.FAILURE_REASONS
    since: date | None = None
    until: date | None = None  # inclusive

    @property
    def active(self) -> bool:
        return bool(self.application or self.dossier or self.reason or self.since or self.until)

    def query(self) -> dict[str, str]:
        """The filters as a query string carries them (the panel's links and forms)."""
        values = {
            "application": str(self.application or ""),
            "dossier": self.dossier,
            "reason": self.reason,
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
        }
        return {k: v for k, v in values.items() if v}


def parse_failure_filters(raw: Mapping[str, str]) -> FailureFilters:
    """The filters from a query string or a form; a wrong value is the person's to fix."""

    def day(name: str) -> date | None:
        return filter_day(raw, name, "dashboard.bad_date")

    application = raw.get("application", "").strip()
    if application and not application.isdigit():
        raise InvalidInput(
            f"bad application {application!r}", field="application", key="dashboard.bad_filter"
        )
    reason = raw.get("reason", "").strip()
    if reason and reason not in FAILURE_REASONS:
        raise InvalidInput(f"bad reason {reason!r}", field="reason", key="dashboard.bad_filter")
    filters = FailureFilters(
        application=int(application) if application else None,
        dossier=raw.get("dossier", "").strip()[:64],
        reason=reason,
        since=day("since"),
        until=day("until"),
    )
    if filters.since and filters.until and filters.since > filters.until:
        raise InvalidInput("since after until", field="until", key="dashboard.bad_range")
    return filters


def _db_time(hub: Hub, value: datetime) -> datetime:
    """SQLite keeps times as naive UTC text, PostgreSQL as timestamptz: match the column."""
    value = value.astimezone(UTC)
    return value.replace(tzinfo=None) if hub.settings.is_sqlite else value


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _day(hub: Hub, column: Any) -> Any:
    """The UTC calendar day of a time column, in both databases."""
    if hub.settings.is_sqlite:
        return func.date(column)
    return cast(func.timezone("UTC", column), Date)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _seconds_between(hub: Hub, start: Any, end: Any) -> Any:
    if hub.settings.is_sqlite:
        return (func.julianday(end) - func.julianday(start)) * literal_column("86400.0")
    return func.extract("epoch", end - start)


async def _conditions(
    session: AsyncSession, hub: Hub, actor: Actor, filters: FailureFilters, status: str
) -> list[ColumnElement[bool]]:
    """The WHERE of every failure query: firm, status, filters, and the actor's dossiers."""
    where: list[ColumnElement[bool]] = [
        Delivery.firm_id == actor.firm_id,
        Delivery.status == status,
    ]
    if filters.reason:
        where.append(Delivery.failure_reason == filters.reason)
    if filters.since:
        where.append(Delivery.created_at >= _db_time(hub, _start_of(filters.since)))
    if filters.until:
        where.append(
            Delivery.created_at < _db_time(hub, _start_of(filters.until + timedelta(days=1)))
        )
    if filters.application:
        # ``connection_id + 0``: an application has a connection per dossier (thousands), so
        # its deliveries are best found walking the (firm, status, created_at) index newest
        # first and checking each against the set, not through the connection_id index and a
        # sort of every one of them (190 ms instead of 3 ms on SQLite at 1M deliveries).
        where.append(
            (Delivery.connection_id + 0).in_(
                select(Connection.id).where(
                    Connection.firm_id == actor.firm_id,
                    Connection.firm_application_id == filters.application,
                )
            )
        )
    if filters.dossier:
        dossier_id = await session.scalar(
            select(Dossier.id).where(Dossier.code == filters.dossier, visible_dossiers(actor))
        )
        if dossier_id is None:
            raise NotFound(
                f"no dossier {filters.dossier!r} for {actor.ref}",
                key="portfolio.no_dossier",
                code=filters.dossier,
            )
        # The dossier kept on the delivery (``ix_delivery_dossier_id``): its deliveries to
        # applications deleted since are counted too.
        where.append(Delivery.dossier_id == dossier_id)
    scope = visible_dossier_ids(actor)
    if scope is not None:
        # A portfolio is many dossiers too: same walk as for an application.
        where.append((Delivery.dossier_id + 0).in_(select(Dossier.id).where(scope)))
    return where


# --------------------------------------------------------------------------- the failures list


@dataclass(frozen=True)
class FailureRow:
    id: int
    document_id: int
    document: str
    version: int
    dossier_code: str
    dossier_name: str
    application: str
    reason: str
    attempts: int
    queued_at: datetime
    failed_at: datetime | None  # the last attempt
    detail: str  # the application's last answer
    may_retry: bool
    # The application was deleted since: ``application`` is the label it had.
    application_deleted: bool = False


@dataclass(frozen=True)
class FailurePage:
    items: list[FailureRow]
    # Cursor of the next (older) page, or None on the last page.
    next_after: str | None
    first: bool  # this is the first page


def _cursor(row: FailureRow) -> str:
    return f"{row.queued_at.isoformat()}~{row.id}"


def _parse_cursor(hub: Hub, value: str) -> tuple[datetime, int]:
    try:
        raw_at, _, ident = value.rpartition("~")
        at = datetime.fromisoformat(raw_at)
        number = int(ident)
    except ValueError:
        raise InvalidInput(f"bad cursor {value!r}", key="dashboard.bad_cursor") from None
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at
    return _db_time(hub, at), number


async def failures(
    hub: Hub,
    actor: Actor,
    filters: FailureFilters | None = None,
    *,
    after: str | None = None,
    per_page: int = PER_PAGE,
) -> FailurePage:
    """Failed deliveries the actor may see, newest first, ``per_page`` at a time; ``after`` is the
    previous page's ``next_after``."""
    filters = filters or FailureFilters()
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    async with hub.sessions() as session:
        where = await _conditions(session, hub, actor, filters, "failed")
        if after:
            at, ident = _parse_cursor(hub, after)
            where.append(
                or_(Delivery.created_at < at, and_(Delivery.created_at == at, Delivery.id < ident))
            )
        # The page's ids first, straight off the index; then their details by primary key.
        ids = (
            select(Delivery.id)
            .where(*where)
            .order_by(Delivery.created_at.desc(), Delivery.id.desc())
            .limit(per_page + 1)
            .cte("page_ids")
        )
        rows = (
            await session.execute(
                select(
                    Delivery,
                    Document.id,
                    Document.name,
                    DocumentVersion.number,
                    Dossier,
                    application_label(),
                )
                .join(ids, ids.c.id == Delivery.id)
                .join(DocumentVersion, DocumentVersion.id == Delivery.document_version_id)
                .join(Document, Document.id == DocumentVersion.document_id)
                .join(Dossier, Dossier.id == Delivery.dossier_id)
                .outerjoin(Connection, Connection.id == Delivery.connection_id)
                .outerjoin(FirmApplication, FirmApplication.id == Connection.firm_application_id)
                .outerjoin(CatalogApp, CatalogApp.id == FirmApplication.catalog_app_id)
                .order_by(Delivery.created_at.desc(), Delivery.id.desc())
            )
        ).all()
        more = len(rows) > per_page
        rows = rows[:per_page]
        last: dict[int, tuple[datetime, str]] = {}
        if rows:
            for attempt in await session.scalars(
                select(DeliveryAttempt)
                .where(DeliveryAttempt.delivery_id.in_([r[0].id for r in rows]))
                .order_by(DeliveryAttempt.delivery_id, DeliveryAttempt.id)
            ):
                last[attempt.delivery_id] = (must_utc(attempt.at), attempt.detail)
    items = [
        FailureRow(
            id=delivery.id,
            document_id=document_id,
            document=name,
            version=number,
            dossier_code=dossier.code,
            dossier_name=dossier.name,
            application=label,
            reason=delivery.failure_reason or "",
            attempts=delivery.attempts,
            queued_at=must_utc(delivery.created_at),
            failed_at=last[delivery.id][0] if delivery.id in last else None,
            detail=last[delivery.id][1] if delivery.id in last else "",
            may_retry=retryable(delivery) and may_retry(actor, dossier),
            application_deleted=delivery.connection_id is None,
        )
        for delivery, document_id, name, number, dossier, label in rows
    ]
    return FailurePage(items, _cursor(items[-1]) if more and items else None, not after)


# --------------------------------------------------------------------------- counts and trend


@dataclass(frozen=True)
class ApplicationCount:
    id: int | None  # the firm application; None once deleted (``label`` is the one it had)
    label: str
    count: int


@dataclass(frozen=True)
class FailureCounts:
    total: int
    by_reason: list[tuple[str, int]]  # most first
    by_application: list[ApplicationCount]  # most first


async def failure_counts(
    hub: Hub, actor: Actor, filters: FailureFilters | None = None
) -> FailureCounts:
    filters = filters or FailureFilters()
    async with hub.sessions() as session:
        where = await _conditions(session, hub, actor, filters, "failed")
        reasons = (
            await session.execute(
                select(Delivery.failure_reason, func.count())
                .where(*where)
                .group_by(Delivery.failure_reason)
            )
        ).all()
        per_connection = (
            select(Delivery.connection_id, func.count().label("n"))
            .where(*where)
            .group_by(Delivery.connection_id)
            .subquery()
        )
        apps: list[tuple[int | None, str, int]] = [
            (i, label, int(n))
            for i, label, n in await session.execute(
                select(FirmApplication.id, CatalogApp.label, func.sum(per_connection.c.n))
                .join(Connection, Connection.id == per_connection.c.connection_id)
                .join(FirmApplication, FirmApplication.id == Connection.firm_application_id)
                .join(CatalogApp, CatalogApp.id == FirmApplication.catalog_app_id)
                .group_by(FirmApplication.id, CatalogApp.label)
            )
        ]
        apps += await _deleted_applications(session, where)
    by_reason = sorted(((r or "", int(n)) for r, n in reasons), key=lambda x: (-x[1], x[0]))
    by_app = sorted(
        (ApplicationCount(i, label, n) for i, label, n in apps),
        key=lambda x: (-x.count, x.label),
    )
    return FailureCounts(sum(n for _, n in by_reason), by_reason, by_app)


async def _deleted_applications(
    session: AsyncSession, where: Sequence[ColumnElement[bool]]
) -> list[tuple[int | None, str, int]]:
    """The counts of deliveries whose application was deleted, by the label it had. Only these
    rows are read (``connection_id IS NULL`` in ``ix_delivery_failure_counts``); the live ones
    are counted from the index alone."""
    rows = await session.execute(
        select(Delivery.application_label, func.count())
        .where(*where, Delivery.connection_id.is_(None))
        .group_by(Delivery.application_label)
    )
    return [(None, label, int(n)) for label, n in rows]


@dataclass(frozen=True)
class DayCount:
    day: date
    count: int


def _window(days: int) -> tuple[list[date], datetime]:
    days = max(1, min(days, MAX_DAYS))
    today = datetime.now(UTC).date()
    span = [today - timedelta(days=days - 1 - i) for i in range(days)]
    return span, _start_of(span[0])


async def failure_trend(
    hub: Hub, actor: Actor, days: int = TREND_DAYS, filters: FailureFilters | None = None
) -> list[DayCount]:
    """Failures per day over the last ``days`` days (today included), oldest first, every day
    present (zero when none)."""
    span, start = _window(days)
    filters = filters or FailureFilters()
    async with hub.sessions() as session:
        where = await _conditions(session, hub, actor, filters, "failed")
        day = _day(hub, Delivery.created_at)
        rows = await session.execute(
            select(day, func.count())
            .where(*where, Delivery.created_at >= _db_time(hub, start))
            .group_by(day)
        )
        found = {_as_date(d): int(n) for d, n in rows}
    return [DayCount(d, found.get(d, 0)) for d in span]


# --------------------------------------------------------------------------- activity


@dataclass(frozen=True)
class ActivityDay:
    day: date
    received: int  # document versions received
    sent: int  # deliveries sent, every application
    by_application: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Activity:
    days: list[ActivityDay]  # oldest first
    applications: list[str]  # labels, most sent first
    received: int
    sent: int
    failed: int
    # Median time from upload to delivery of what was sent in the window; None if nothing was.
    median_seconds: float | None
    pending: int  # waiting or being sent, right now


async def activity(hub: Hub, actor: Actor, days: int = TREND_DAYS) -> Activity:
    """Documents received and deliveries sent per day and per application, the median time from
    upload to delivery, failures in the window and the queue waiting now."""
    span, start = _window(days)
    since = _db_time(hub, start)
    scope = visible_dossier_ids(actor)
    async with hub.sessions() as session:
        received_day = _day(hub, DocumentVersion.created_at)
        received_q = (
            select(received_day, func.count())
            .where(DocumentVersion.firm_id == actor.firm_id, DocumentVersion.created_at >= since)
            .group_by(received_day)
        )
        if scope is not None:
            received_q = received_q.join(
                Document, Document.id == DocumentVersion.document_id
            ).where(Document.dossier_id.in_(select(Dossier.id).where(scope)))
        received = {_as_date(d): int(n) for d, n in await session.execute(received_q)}

        sent_where = await _conditions(session, hub, actor, FailureFilters(), "sent")
        sent_where.append(Delivery.sent_at >= since)
        sent_day = _day(hub, Delivery.sent_at)
        per_connection = (
            select(Delivery.connection_id, sent_day.label("day"), func.count().label("n"))
            .where(*sent_where)
            .group_by(Delivery.connection_id, sent_day)
            .subquery()
        )
        sent_rows = list(
            await session.execute(
                select(per_connection.c.day, CatalogApp.label, func.sum(per_connection.c.n))
                .join(Connection, Connection.id == per_connection.c.connection_id)
                .join(FirmApplication, FirmApplication.id == Connection.firm_application_id)
                .join(CatalogApp, CatalogApp.id == FirmApplication.catalog_app_id)
                .group_by(per_connection.c.day, CatalogApp.label)
            )
        )
        # And to the applications deleted since, by the label they had.
        sent_rows += await session.execute(
            select(sent_day, Delivery.application_label, func.count())
            .where(*sent_where, Delivery.connection_id.is_(None))
            .group_by(sent_day, Delivery.application_label)
        )
        median = await _median_seconds(session, hub, sent_where)

        failed_where = await _conditions(session, hub, actor, FailureFilters(), "failed")
        failed = await session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(*failed_where, Delivery.created_at >= since)
        )
        pending = 0
        for status in ("pending", "sending"):
            waiting = await _conditions(session, hub, actor, FailureFilters(), status)
            pending += int(
                await session.scalar(select(func.count()).select_from(Delivery).where(*waiting))
                or 0
            )
    by_day: dict[date, dict[str, int]] = defaultdict(dict)
    totals: dict[str, int] = defaultdict(int)
    for d, label, n in sent_rows:
        by_day[_as_date(d)][label] = int(n)
        totals[label] += int(n)
    labels = sorted(totals, key=lambda x: (-totals[x], x))
    rows = [
        ActivityDay(d, received.get(d, 0), sum(by_day[d].values()), dict(by_day[d])) for d in span
    ]
    return Activity(
        days=rows,
        applications=labels,
        received=sum(r.received for r in rows),
        sent=sum(r.sent for r in rows),
        failed=int(failed or 0),
        median_seconds=median,
        pending=pending,
    )


async def _median_seconds(
    session: AsyncSession, hub: Hub, where: Sequence[ColumnElement[bool]]
) -> float | None:
    """The median by counting, then reading the middle one or two values in order (LIMIT/OFFSET):
    SQLite has no percentile function, and this is the same on both databases. A delivery is
    written in the same transaction as its version, so its ``created_at`` is the upload time."""
    total = int(await session.scalar(select(func.count()).select_from(Delivery).where(*where)) or 0)
    if not total:
        return None
    seconds = _seconds_between(hub, Delivery.created_at, Delivery.sent_at)
    middle = list(
        await session.scalars(
            select(seconds)
            .where(*where)
            .order_by(seconds)
            .offset((total - 1) // 2)
            .limit(1 if total % 2 else 2)
        )
    )
    return max(0.0, sum(float(v) for v in middle) / len(middle))


# --------------------------------------------------------------------------- choices and retry


@dataclass(frozen=True)
class FilterChoices:
    applications: list[tuple[int, str]]  # (firm application id, label)
    reasons: tuple[str, ...]


async def filter_choices(hub: Hub, actor: Actor) -> FilterChoices:
    async with hub.sessions() as session:
        apps = (
            await session.execute(
                select(FirmApplication.id, CatalogApp.label)
                .join(CatalogApp, CatalogApp.id == FirmApplication.catalog_app_id)
                .where(FirmApplication.firm_id == actor.firm_id)
                .order_by(CatalogApp.label)
            )
        ).all()
    return FilterChoices([(i, label) for i, label in apps], FAILURE_REASONS)


async def retry_matching(
    hub: Hub, actor: Actor, filters: FailureFilters, *, cap: int = MAX_RETRY
) -> RetryResult:
    """Send again every failure matching the filters that the actor may retry, newest first, at
    most ``cap`` at once; ``remaining`` says how many more match (run it again for them)."""
    require_may_retry_somewhere(actor)
    cap = max(1, min(cap, MAX_RETRY))
    async with hub.sessions() as session:
        where = await _conditions(session, hub, actor, filters, "failed")
        # Those of deleted applications have nowhere to go: they would take the cap for nothing.
        where.append(Delivery.connection_id.is_not(None))
        total = int(
            await session.scalar(select(func.count()).select_from(Delivery).where(*where)) or 0
        )
        ids = list(
            await session.scalars(
                select(Delivery.id)
                .where(*where)
                .order_by(Delivery.created_at.desc(), Delivery.id.desc())
                .limit(cap)
            )
        )
    if not ids:
        return RetryResult(0)
    result = await retry_deliveries(hub, actor, ids)
    return RetryResult(result.retried, result.refused, max(0, total - len(ids)), result.ids)


# --------------------------------------------------------------------------- CSV export


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

__all__ = [
    "CSV_COLUMNS",
    "Activity",
    "ActivityDay",
    "ApplicationCount",
    "CsvLabels",
    "DayCount",
    "FailureCounts",
    "FailureFilters",
    "FailurePage",
    "FailureRow",
    "FilterChoices",
    "activity",
    "as_utc",
    "failure_counts",
    "failure_trend",
    "failures",
    "failures_csv",
    "filter_choices",
    "parse_failure_filters",
    "retry_matching",
    "safe_cell",
]
