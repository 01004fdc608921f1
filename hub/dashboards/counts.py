"""How many failures, by reason and by application, and per day (the trend)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.dashboards.days import TREND_DAYS, as_date, day_of, window
from hub.dashboards.filters import FailureFilters, conditions
from hub.identity import Actor
from hub.services import Hub
from storage.models import CatalogApp, Connection, Delivery, FirmApplication


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
        where = await conditions(session, actor, filters, "failed")
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


async def failure_trend(
    hub: Hub, actor: Actor, days: int = TREND_DAYS, filters: FailureFilters | None = None
) -> list[DayCount]:
    """Failures per day over the last ``days`` days (today included), oldest first, every day
    present (zero when none)."""
    span, start = window(days)
    filters = filters or FailureFilters()
    async with hub.sessions() as session:
        where = await conditions(session, actor, filters, "failed")
        day = day_of(hub, Delivery.created_at)
        rows = await session.execute(
            select(day, func.count()).where(*where, Delivery.created_at >= start).group_by(day)
        )
        found = {as_date(d): int(n) for d, n in rows}
    return [DayCount(d, found.get(d, 0)) for d in span]
