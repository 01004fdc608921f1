"""The failures' filters (an application, a dossier, a reason, a date range), as a query string
carries them, and the WHERE every failure query shares: firm, status, filters, and the dossiers
the actor may see. Filters on an application, a dossier or the actor's portfolio become ``IN (…)``
subqueries on small tables (connections, dossiers)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.outcomes import FAILURE_REASONS
from hub.dashboards.days import start_of
from hub.errors import InvalidInput, NotFound
from hub.identity import Actor
from hub.paging import filter_day
from hub.portfolio.dossiers import code_is, exact_code_first
from hub.rights import visible_dossier_ids, visible_dossiers
from hub.services import Hub
from storage.models import CatalogApp, Connection, Delivery, Dossier, FirmApplication


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


async def conditions(
    session: AsyncSession, actor: Actor, filters: FailureFilters, status: str
) -> list[ColumnElement[bool]]:
    """The WHERE of every failure query: firm, status, filters, and the actor's dossiers."""
    where: list[ColumnElement[bool]] = [
        Delivery.firm_id == actor.firm_id,
        Delivery.status == status,
    ]
    if filters.reason:
        where.append(Delivery.failure_reason == filters.reason)
    if filters.since:
        where.append(Delivery.created_at >= start_of(filters.since))
    if filters.until:
        where.append(Delivery.created_at < start_of(filters.until + timedelta(days=1)))
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
            select(Dossier.id)
            .where(code_is(filters.dossier), visible_dossiers(actor))
            .order_by(exact_code_first(filters.dossier))
            .limit(1)
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
