"""What the demo firm looks like after a month of use.

Its partner applications connected to a few dossiers of each person's portfolio (the purchases
OCR on Achats, the sales OCR on Ventes, expense receipts by email on Notes de frais), the
applications a contact can be offered (Start, Co-production…), ~45 documents received over the
last 30 days, and their deliveries in the states the worker leaves them in: sent with the
application's reference, waiting for a retry, and failed for each reason of
:mod:`connectors.outcomes` — one application was even deleted since, as the panel does it.
Without it, History, the bot's ``historique``/``échecs`` and the dashboards of a fresh demo are
empty.

The API applications deliver to the demo's partner stand-in (:mod:`relais.demo.partner`): its
address changes at every start (a free port), so ``relais demo`` stores it again
(:func:`point_at_partner`). Connections predate the documents they carry (a delivery only goes
to an earlier connection).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.outcomes import APPLICATION_DELETED, DISCONNECTED
from hub import connections
from hub.applications import Definition, add_application, delete_application
from hub.connections import Entry
from hub.documents import receive_document
from hub.identity import Actor, staff_actor
from hub.services import Hub
from hub.settings import DEMO_TENANT_ID
from relais.demo.contents import content
from relais.demo.dataset import (
    ANSWERS,
    APPLICATIONS,
    CONNECTED_DAYS_AGO,
    DEMO_STAFF,
    DOCUMENTS,
    DOSSIERS_PER_PERSON,
    FIRM,
    DemoApplication,
    DemoDocument,
)
from storage.models import (
    AuditEvent,
    CatalogApp,
    Connection,
    ConnectionFolder,
    Contact,
    ContactDossier,
    Delivery,
    DeliveryAttempt,
    Document,
    DocumentVersion,
    Dossier,
    Firm,
    FirmApplication,
    Folder,
    StaffUser,
)


@dataclass
class ActivityInfo:
    """What :func:`seed_activity` added this time (all zero when everything was already there)."""

    applications: int = 0
    connections: int = 0
    documents: int = 0
    versions: int = 0
    deliveries: dict[str, int] = field(default_factory=dict)
    # The connected dossiers' codes (every time): the ones worth asking the bot about.
    dossiers: list[str] = field(default_factory=list)


@dataclass
class _Firm:
    """The seeded firm as the activity needs it."""

    firm: Firm
    admin: Actor
    # DOSSIERS_PER_PERSON active dossiers of each person, in DEMO_STAFF order, by code.
    chosen: list[Dossier]
    folders: dict[str, int]  # path → id
    apps: set[str]  # the catalog slugs the firm already has
    masters: dict[int, Actor]  # staff id → actor
    guests: dict[int, Actor]  # dossier id → its first guest contact
    existing: set[tuple[int, int, str]]  # (dossier id, folder id, name) of the documents
    deleted: set[str]  # the catalog slugs of the applications the firm deleted

    def has(self, slug: str) -> bool:
        """Added already (and maybe deleted since, as the seed does with one)."""
        return slug in self.apps or slug in self.deleted


@dataclass(frozen=True, order=True)
class _Arrival:
    at: datetime
    number: int  # in DOCUMENTS
    version: int
    outcome: str


async def seed_activity(
    hub: Hub, now: datetime | None = None, partner_url: str | None = None
) -> ActivityInfo:
    """Add the demo firm's applications, connections, documents and deliveries (after
    :func:`relais.demo.seed`); the API applications' URL is ``partner_url`` (the stand-in's)
    when given. Idempotent: an application already on the firm (or deleted by the seed before)
    keeps its connections as they are, a document already in its folder is left alone."""
    now = now or datetime.now(UTC)
    firm = await _read_firm(hub)
    info = ActivityInfo(dossiers=[d.code for d in firm.chosen])
    new_apps: dict[str, int] = {}
    for application in APPLICATIONS:
        if not firm.has(application.app):
            app_id, connected = await _add_application(hub, firm, application, partner_url)
            new_apps[application.app] = app_id
            info.connections += connected
    info.applications = len(new_apps)
    if "ocr-ventes" in new_apps and "ocr-achats" in firm.apps:
        await _purchases_off_sales(hub, firm.firm.id)
    if new_apps:
        since = now - timedelta(days=CONNECTED_DAYS_AGO)
        await _backdate(hub, firm.firm.id, list(new_apps.values()), since)
    # Received in time order, as they would have been: History lists the newest first by the
    # order things were stored.
    for arrival in sorted(_arrivals(firm, now, info)):
        await _receive(hub, firm, arrival, now, info)
    for application in APPLICATIONS:
        if application.deleted_days_ago and application.app in new_apps:
            at = now - timedelta(days=application.deleted_days_ago)
            await _delete(hub, firm, new_apps[application.app], at)
    return info


async def _purchases_off_sales(hub: Hub, firm_id: int) -> None:
    """Demos seeded before the sales OCR existed had the purchases OCR on the Ventes folders
    too; the sales OCR, added now, takes them. Done once, when the sales OCR comes: a person who
    connects the purchases OCR to Ventes later on keeps it there."""
    async with hub.sessions() as session, session.begin():
        wrong = (
            select(ConnectionFolder.id)
            .join(Connection, Connection.id == ConnectionFolder.connection_id)
            .join(FirmApplication, FirmApplication.id == Connection.firm_application_id)
            .join(CatalogApp, CatalogApp.id == FirmApplication.catalog_app_id)
            .join(Folder, Folder.id == ConnectionFolder.folder_id)
            .where(
                FirmApplication.firm_id == firm_id,
                CatalogApp.slug == "ocr-achats",
                or_(Folder.path == "Ventes", Folder.path.startswith("Ventes/")),
            )
        )
        await session.execute(delete(ConnectionFolder).where(ConnectionFolder.id.in_(wrong)))


async def point_at_partner(hub: Hub, url: str) -> int:
    """The demo firm's API applications deliver to ``url`` (the partner stand-in's address,
    new at every start); returns how many were pointed there. A visitor's own applications, at
    addresses of their choosing, are left alone."""
    slugs = [a.app for a in APPLICATIONS if a.by_api]
    async with hub.sessions() as session, session.begin():
        firm_id = await session.scalar(select(Firm.id).where(Firm.tenant_id == DEMO_TENANT_ID))
        apps = list(
            await session.scalars(
                select(FirmApplication)
                .join(CatalogApp, CatalogApp.id == FirmApplication.catalog_app_id)
                .where(FirmApplication.firm_id == firm_id, CatalogApp.slug.in_(slugs))
            )
        )
        for app in apps:
            app.api_url = url
    return len(apps)


async def _delete(hub: Hub, firm: _Firm, app_id: int, at: datetime) -> None:
    """Delete the application as an administrator does in the panel (its waiting deliveries
    end failed, "application deleted"), ``at`` that time."""
    async with hub.sessions() as session:
        waiting = list(
            await session.scalars(
                select(Delivery.id)
                .join(Connection, Connection.id == Delivery.connection_id)
                .where(Connection.firm_application_id == app_id, Delivery.status == "pending")
            )
        )
    await delete_application(hub, firm.admin, app_id)
    async with hub.sessions() as session, session.begin():
        await session.execute(
            update(AuditEvent)
            .where(
                AuditEvent.firm_id == firm.firm.id,
                AuditEvent.action == "application.deleted",
                AuditEvent.target_id == str(app_id),
            )
            .values(at=at)
        )
        await session.execute(
            update(Delivery).where(Delivery.id.in_(waiting)).values(notified_at=at)
        )


async def _read_firm(hub: Hub) -> _Firm:
    async with hub.sessions() as session:
        firm = await session.scalar(select(Firm).where(Firm.tenant_id == DEMO_TENANT_ID))
        if firm is None:
            raise RuntimeError("seed the demo firm first")
        staff = {
            u.entra_object_id: u
            for u in await session.scalars(select(StaffUser).where(StaffUser.firm_id == firm.id))
        }
        chosen: list[Dossier] = []
        for person in DEMO_STAFF:
            chosen += await session.scalars(
                select(Dossier)
                .where(
                    Dossier.firm_id == firm.id,
                    Dossier.master_id == staff[person.object_id].id,
                    Dossier.status == "active",
                )
                .order_by(Dossier.code)
                .limit(DOSSIERS_PER_PERSON)
            )
        return _Firm(
            firm=firm,
            admin=staff_actor(firm, staff[DEMO_STAFF[0].object_id]),
            chosen=chosen,
            folders={
                f.path: f.id
                for f in await session.scalars(select(Folder).where(Folder.firm_id == firm.id))
            },
            apps=set(
                await session.scalars(
                    select(CatalogApp.slug)
                    .join(FirmApplication, FirmApplication.catalog_app_id == CatalogApp.id)
                    .where(FirmApplication.firm_id == firm.id)
                )
            ),
            masters={u.id: staff_actor(firm, u) for u in staff.values()},
            deleted=await _deleted_apps(session, firm.id),
            guests=await _guests(session, firm),
            existing=set(
                (dossier_id, folder_id, name)
                for dossier_id, folder_id, name in await session.execute(
                    select(Document.dossier_id, Document.folder_id, Document.name).where(
                        Document.firm_id == firm.id
                    )
                )
            ),
        )


async def _deleted_apps(session: AsyncSession, firm_id: int) -> set[str]:
    events = await session.scalars(
        select(AuditEvent).where(
            AuditEvent.firm_id == firm_id, AuditEvent.action == "application.deleted"
        )
    )
    return {str((e.details or {}).get("app", "")) for e in events}


async def _guests(session: AsyncSession, firm: Firm) -> dict[int, Actor]:
    guests: dict[int, Actor] = {}
    for dossier_id, contact in await session.execute(
        select(ContactDossier.dossier_id, Contact)
        .join(Contact, Contact.id == ContactDossier.contact_id)
        .where(ContactDossier.firm_id == firm.id, Contact.entra_object_id.is_not(None))
    ):
        guests.setdefault(
            dossier_id,
            Actor(
                firm_id=firm.id,
                firm_name=firm.name,
                kind="contact",
                id=contact.id,
                display_name=contact.display_name,
                locale=contact.locale,
            ),
        )
    return guests


async def _add_application(
    hub: Hub, firm: _Firm, application: DemoApplication, partner_url: str | None
) -> tuple[int, int]:
    """Add ``application`` as the administrator would in the wizard, and connect its dossiers to
    its folders; returns its id and how many dossiers got connected."""
    sic_codes = firm.firm.sic_codes
    added = await add_application(
        hub,
        firm.admin,
        Definition(
            app=application.app,
            api_key_id=application.api_key_id,
            secret=application.secret,
            api_url=(partner_url or application.api_url) if application.by_api else "",
            sic_code=sic_codes[0] if application.firm_sic_code and sic_codes else "",
            partner_email=application.partner_email,
        ),
    )
    start, step = application.serial
    connected = 0
    for index, path in enumerate(application.folders):
        entries = [
            Entry(
                dossier.id,
                True,
                application.value.format(
                    code=dossier.code.lower(), domain=FIRM.domain, serial=start + n * step
                ),
                add_folder=index > 0,
            )
            for n, dossier in enumerate(firm.chosen)
            if n % DOSSIERS_PER_PERSON in application.slots
        ]
        saved = await connections.save(hub, firm.admin, added.id, firm.folders[path], entries)
        connected += saved.count("connected")
    return added.id, connected


async def _backdate(hub: Hub, firm_id: int, app_ids: list[int], since: datetime) -> None:
    """The new applications and their connections were made ``since``."""
    async with hub.sessions() as session, session.begin():
        ids = select(Connection.id).where(Connection.firm_application_id.in_(app_ids))
        await session.execute(
            update(Connection).where(Connection.id.in_(ids)).values(connected_at=since)
        )
        await session.execute(
            update(ConnectionFolder)
            .where(ConnectionFolder.connection_id.in_(ids))
            .values(connected_at=since)
        )
        await session.execute(
            update(AuditEvent)
            .where(
                AuditEvent.firm_id == firm_id,
                AuditEvent.target_type == "firm_application",
                AuditEvent.target_id.in_([str(i) for i in app_ids]),
            )
            .values(at=since)
        )


def _arrivals(firm: _Firm, now: datetime, info: ActivityInfo) -> list[_Arrival]:
    """Every version of the documents not there yet, with the time it came."""
    arrivals: list[_Arrival] = []
    for number, doc in enumerate(DOCUMENTS):
        if doc.slot >= len(firm.chosen):
            continue
        if (firm.chosen[doc.slot].id, firm.folders[doc.folder], doc.name) in firm.existing:
            continue
        info.documents += 1
        for version, outcome in enumerate(doc.outcomes, start=1):
            # Versions of one document come a few days apart, the last one on ``days_ago``.
            days = doc.days_ago + 3 * (len(doc.outcomes) - version)
            at = (now - timedelta(days=days)).replace(hour=doc.hour, minute=(number * 7) % 60)
            at = min(at, now - timedelta(minutes=30 + number))
            arrivals.append(_Arrival(at, number, version, outcome))
    return arrivals


def _author(firm: _Firm, doc: DemoDocument, dossier: Dossier) -> Actor:
    if doc.by == "contact" and dossier.id in firm.guests:
        return firm.guests[dossier.id]
    if doc.by == "admin":
        return firm.admin
    return firm.masters.get(dossier.master_id or 0, firm.admin)


async def _receive(
    hub: Hub, firm: _Firm, arrival: _Arrival, now: datetime, info: ActivityInfo
) -> None:
    doc = DOCUMENTS[arrival.number]
    dossier = firm.chosen[doc.slot]
    actor = _author(firm, doc, dossier)
    # Only a contact's documents come through the bot here; staff's come from the panel.
    source = "bot" if actor.kind == "contact" else "panel"
    data = content(doc, dossier.code, dossier.name, arrival.version)
    receipt = await receive_document(hub, actor, dossier.code, doc.folder, doc.name, data, source)
    info.versions += 1
    rng = random.Random(arrival.number * 10 + arrival.version)
    await _settle(hub, receipt.version_id, arrival, now, rng, info)


async def _settle(
    hub: Hub,
    version_id: int,
    arrival: _Arrival,
    now: datetime,
    rng: random.Random,
    info: ActivityInfo,
) -> None:
    """Date the version, and leave its deliveries as the worker would have: sent with the
    application's reference, failed with its answer (already told), or waiting for a retry."""
    async with hub.sessions() as session, session.begin():
        version = await _date_version(session, version_id, arrival.at)
        rows = await session.execute(
            select(Delivery, Connection, CatalogApp)
            .join(Connection, Connection.id == Delivery.connection_id)
            .join(FirmApplication, FirmApplication.id == Connection.firm_application_id)
            .join(CatalogApp, CatalogApp.id == FirmApplication.catalog_app_id)
            .where(Delivery.document_version_id == version_id)
        )
        for delivery, connection, app in rows:
            outcome = arrival.outcome
            delivery.created_at = arrival.at
            moment = arrival.at + timedelta(seconds=rng.randint(2, 40))
            if outcome == "sent":
                tries = _sent(delivery, connection, app, moment, arrival.at, rng)
            elif outcome == "pending":
                tries = _pending(delivery, moment, now, rng)
            elif outcome == APPLICATION_DELETED:
                tries = _waiting(delivery, moment)
            else:
                tries = _failed(delivery, connection, app, version, outcome, moment)
            delivery.attempts = len(tries)
            session.add_all(
                DeliveryAttempt(
                    firm_id=delivery.firm_id,
                    delivery_id=delivery.id,
                    at=when,
                    outcome=kind,
                    detail=detail,
                )
                for when, kind, detail in tries
            )
            info.deliveries[outcome] = info.deliveries.get(outcome, 0) + 1


async def _date_version(session: AsyncSession, version_id: int, at: datetime) -> DocumentVersion:
    """The version (and a first version's document, and its "received" audit line) came ``at``."""
    version = await session.get(DocumentVersion, version_id)
    assert version is not None
    version.created_at = at
    document = await session.get(Document, version.document_id)
    if document is not None and version.number == 1:
        document.created_at = at
    await session.execute(
        update(AuditEvent)
        .where(
            AuditEvent.firm_id == version.firm_id,
            AuditEvent.action == "document.received",
            AuditEvent.target_type == "document_version",
            AuditEvent.target_id == str(version_id),
        )
        .values(at=at)
    )
    return version


_Tries = list[tuple[datetime, str, str]]  # (when, outcome, detail) of each attempt


def _sent(
    delivery: Delivery,
    connection: Connection,
    app: CatalogApp,
    moment: datetime,
    at: datetime,
    rng: random.Random,
) -> _Tries:
    """Sent with the application's reference, sometimes after one passing fault."""
    tries: _Tries = []
    if rng.random() < 0.2:
        # The application was briefly down: one retry, as it happens.
        tries.append((moment, "fault", "HTTP 503 Service Unavailable"))
        moment += timedelta(seconds=rng.randint(3, 30))
    if app.connection == "api":
        # As the partner stand-in makes them (relais.demo.partner).
        reference = f"DEMO-{rng.getrandbits(48):012x}"
        detail = f'HTTP 201 {{"reference": "{reference}", "status": "queued"}}'
    else:
        reference = f"<{delivery.idempotency_key}@relais.{FIRM.domain}>"
        detail = f"accepted for {connection.collection_email}"
    tries.append((moment, "sent", f"reference {reference}: {detail}"))
    delivery.status = "sent"
    delivery.app_reference = reference
    delivery.sent_at = moment
    delivery.next_attempt_at = moment
    return tries


def _pending(delivery: Delivery, moment: datetime, now: datetime, rng: random.Random) -> _Tries:
    """Two passing faults; the retry is due later: what a person opening the demo sees as
    "waiting"."""
    tries: _Tries = []
    for _ in range(2):
        tries.append((moment, "fault", "HTTP 503 Service Unavailable"))
        moment += timedelta(seconds=rng.randint(4, 12))
    delivery.status = "pending"
    delivery.next_attempt_at = now + timedelta(minutes=25)
    return tries


def _waiting(delivery: Delivery, moment: datetime) -> _Tries:
    """One passing fault, the retry due later; the application is deleted meanwhile, which
    ends the delivery failed (:func:`_delete`)."""
    delivery.status = "pending"
    delivery.next_attempt_at = moment + timedelta(hours=1)
    return [(moment, "fault", "421 4.3.2 Service not available, closing transmission channel")]


def _failed(
    delivery: Delivery,
    connection: Connection,
    app: CatalogApp,
    version: DocumentVersion,
    reason: str,
    moment: datetime,
) -> _Tries:
    """Failed for ``reason``, with what the application (or Relais' own check) said."""
    tries: _Tries = []
    if reason == "gave_up":
        for attempt in range(8):
            tries.append((moment, "fault", "timeout: ConnectTimeout"))
            moment += timedelta(seconds=2 ** (attempt + 1))
    elif reason == "too_large":
        detail = f"{version.size} bytes; {app.label} accepts {app.max_size or 0} at most"
        tries.append((moment, "refused", f"too_large: {detail}"))
    elif reason == "format_refused":
        accepted = ", ".join(app.accepted_formats)
        detail = f"{version.content_type}; {app.label} accepts {accepted}"
        tries.append((moment, "refused", f"format_refused: {detail}"))
    else:
        if reason == DISCONNECTED:
            # Switched off before the send: the dossier's status shows it off since.
            connection.active = False
        answer = ANSWERS[reason]
        text = answer.api if app.connection == "api" else answer.mail
        detail = text.format(code=connection.dossier_code_at_app, email=connection.collection_email)
        tries.append((moment, "refused", f"{reason}: {detail}"))
    delivery.status = "failed"
    delivery.failure_reason = reason
    # Already told in Teams: a fresh demo sends no burst of failure notices.
    delivery.notified_at = moment + timedelta(minutes=2)
    delivery.next_attempt_at = moment
    return tries
