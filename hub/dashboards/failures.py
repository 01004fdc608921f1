"""The failed-sends list: failed deliveries read in keyset pages on ``(created_at, id)``, newest
first, through the ``ix_delivery_firm_status_created`` index (``firm_id, status, created_at, id``):
page 500 costs what page 1 costs, with millions of deliveries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select

from hub.dashboards.filters import FailureFilters, conditions
from hub.errors import InvalidInput
from hub.history.deliveries import application_label, retryable
from hub.identity import Actor
from hub.rights import may_retry
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


def _parse_cursor(value: str) -> tuple[datetime, int]:
    """A page cursor ``<queued_at>~<id>``; the column's type takes the time to UTC."""
    try:
        raw_at, _, ident = value.rpartition("~")
        return datetime.fromisoformat(raw_at), int(ident)
    except ValueError:
        raise InvalidInput(f"bad cursor {value!r}", key="dashboard.bad_cursor") from None


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
        where = await conditions(session, actor, filters, "failed")
        if after:
            at, ident = _parse_cursor(after)
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
                last[attempt.delivery_id] = (attempt.at, attempt.detail)
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
            queued_at=delivery.created_at,
            failed_at=last[delivery.id][0] if delivery.id in last else None,
            detail=last[delivery.id][1] if delivery.id in last else "",
            may_retry=retryable(delivery) and may_retry(actor, dossier),
            application_deleted=delivery.connection_id is None,
        )
        for delivery, document_id, name, number, dossier, label in rows
    ]
    return FailurePage(items, _cursor(items[-1]) if more and items else None, not after)
