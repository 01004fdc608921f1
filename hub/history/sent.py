"""What was sent today (the bot's ``sent``: "what was sent to the OCR today?"): the deliveries
sent since midnight in the firm's time zone, newest first, in the dossiers the actor may see,
to every application or to those whose label holds the words given.

The firm's day is that of ``RELAIS_NOTICE_TIMEZONE``, the one time-zone setting (the digests of
failures are sent by it too).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from hub.history.deliveries import application_label
from hub.history.names import fold, search_words
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

SENT_SHOWN = 15


@dataclass(frozen=True)
class SentEntry:
    document: str
    version: int
    dossier_code: str
    application: str
    sent_at: datetime
    app_reference: str


@dataclass(frozen=True)
class SentToday:
    items: list[SentEntry]  # newest first, at most ``limit``
    total: int  # sent today, shown or not
    applications: list[str]  # the labels the words matched (all when no words were given)
    asked: str  # the words given, as typed ("" for every application)


def today_in(zone: str, now: datetime | None = None) -> tuple[datetime, datetime]:
    """Midnight to midnight of today in ``zone``, in UTC (a day of 23 or 25 hours when the clocks
    change)."""
    tz = ZoneInfo(zone)
    day = (now or datetime.now(UTC)).astimezone(tz).date()
    start = datetime.combine(day, time.min, tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


async def _labels(hub: Hub, actor: Actor, words: list[str]) -> list[str]:
    """The firm's application labels holding every word (folded, any order)."""
    async with hub.sessions() as session:
        labels = await session.scalars(
            select(CatalogApp.label)
            .join(FirmApplication, FirmApplication.catalog_app_id == CatalogApp.id)
            .where(FirmApplication.firm_id == actor.firm_id)
            .order_by(CatalogApp.label)
        )
        return [label for label in labels if all(w in fold(label) for w in words)]


async def sent_today(
    hub: Hub,
    actor: Actor,
    application: str = "",
    *,
    now: datetime | None = None,
    limit: int = SENT_SHOWN,
) -> SentToday:
    """The documents sent today, to the applications whose label holds every word of
    ``application`` (all when it is blank). Words matching no application answer an empty list
    with no ``applications``: the card says which words matched nothing."""
    words = search_words(application)
    labels = await _labels(hub, actor, words)
    if words and not labels:
        return SentToday([], 0, [], application.strip())
    start, end = today_in(hub.settings.notice_timezone, now)
    label = application_label()
    where = [
        Delivery.firm_id == actor.firm_id,
        Delivery.status == "sent",
        Delivery.sent_at >= start,
        Delivery.sent_at < end,
    ]
    scope = visible_dossier_ids(actor)
    if scope is not None:
        where.append(Delivery.dossier_id.in_(select(Dossier.id).where(scope)))
    if words:
        where.append(func.coalesce(CatalogApp.label, Delivery.application_label).in_(labels))
    query = (
        select(Delivery, Document.name, DocumentVersion.number, Dossier.code, label)
        .join(DocumentVersion, DocumentVersion.id == Delivery.document_version_id)
        .join(Document, Document.id == DocumentVersion.document_id)
        .join(Dossier, Dossier.id == Delivery.dossier_id)
        .outerjoin(Connection, Connection.id == Delivery.connection_id)
        .outerjoin(FirmApplication, FirmApplication.id == Connection.firm_application_id)
        .outerjoin(CatalogApp, CatalogApp.id == FirmApplication.catalog_app_id)
        .where(*where)
    )
    async with hub.sessions() as session:
        total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = (
            await session.execute(
                query.order_by(Delivery.sent_at.desc(), Delivery.id.desc()).limit(limit)
            )
        ).all()
    items = [
        SentEntry(name, number, code, app, d.sent_at, d.app_reference or "")
        for d, name, number, code, app in rows
        if d.sent_at is not None  # a sent delivery has its time; the query asked for one
    ]
    return SentToday(items, int(total), labels if words else [], application.strip())
