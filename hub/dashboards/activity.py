"""The activity dashboard: documents received and deliveries sent per day and per application,
the median time from upload to delivery, failures in the window and the queue waiting now."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.dashboards.days import TREND_DAYS, as_date, day_of, seconds_between, window
from hub.dashboards.filters import FailureFilters, conditions
from hub.identity import Actor
from hub.rights import visible_dossier_ids
from hub.services import Hub
from storage.models import (
    CatalogApp,
    Connection,
    Delivery,
    Document,
    DocumentVersion,
    Dossier,
    FirmApplication,
)


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
    span, since = window(days)
    scope = visible_dossier_ids(actor)
    async with hub.sessions() as session:
        received_day = day_of(hub, DocumentVersion.created_at)
        received_q = (
            select(received_day, func.count())
            .where(DocumentVersion.firm_id == actor.firm_id, DocumentVersion.created_at >= since)
            .group_by(received_day)
        )
        if scope is not None:
            received_q = received_q.join(
                Document, Document.id == DocumentVersion.document_id
            ).where(Document.dossier_id.in_(select(Dossier.id).where(scope)))
        received = {as_date(d): int(n) for d, n in await session.execute(received_q)}

        sent_where = await conditions(session, actor, FailureFilters(), "sent")
        sent_where.append(Delivery.sent_at >= since)
        sent_day = day_of(hub, Delivery.sent_at)
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

        failed_where = await conditions(session, actor, FailureFilters(), "failed")
        failed = await session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(*failed_where, Delivery.created_at >= since)
        )
        pending = 0
        for status in ("pending", "sending"):
            waiting = await conditions(session, actor, FailureFilters(), status)
            pending += int(
                await session.scalar(select(func.count()).select_from(Delivery).where(*waiting))
                or 0
            )
    by_day: dict[date, dict[str, int]] = defaultdict(dict)
    totals: dict[str, int] = defaultdict(int)
    for d, label, n in sent_rows:
        by_day[as_date(d)][label] = int(n)
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
    seconds = seconds_between(hub, Delivery.created_at, Delivery.sent_at)
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
