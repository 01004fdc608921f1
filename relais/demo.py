"""The demo firm: staff of each role, ~200 dossiers with French company names, contacts, the catalog.

``seed`` is idempotent: run again, it keeps what is there (and anything people changed) and only
adds what is missing. Identifiers are fixed so that a Teams-shaped activity can be posted by hand
with the ids ``relais demo`` prints.
"""

from __future__ import annotations

import base64
import random
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from hub import connections
from hub.applications import Definition, add_application
from hub.audit import record
from hub.catalog import sync_catalog
from hub.connections import Entry
from hub.documents import receive_document
from hub.identity import Actor, staff_actor
from hub.services import Hub
from hub.settings import DEMO_TENANT_ID
from storage.db import Sessions
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

DEMO_FIRM_NAME = "Cabinet Durand & Associés"
DEMO_DOMAIN = "durand-associes.fr"

# (object id, display name, email local part, role, rights manager, locale)
DEMO_STAFF = [
    (
        "a0000000-0000-4000-8000-000000000001",
        "Claire Durand",
        "claire.durand",
        "administrator",
        False,
        "fr",
    ),
    (
        "a0000000-0000-4000-8000-000000000002",
        "Marc Lefèvre",
        "marc.lefevre",
        "collaborator",
        True,
        "fr",
    ),
    (
        "a0000000-0000-4000-8000-000000000003",
        "Sophie Martin",
        "sophie.martin",
        "collaborator",
        False,
        "fr",
    ),
    (
        "a0000000-0000-4000-8000-000000000004",
        "James Walker",
        "james.walker",
        "collaborator",
        False,
        "en",
    ),
]

FOLDERS = ["Achats", "Ventes", "Notes de frais", "Administratif"]
YEARS = ["2025", "2026"]

_PREFIXES = [
    "Boulangerie",
    "Garage",
    "Pharmacie",
    "Cabinet",
    "Transports",
    "Menuiserie",
    "Librairie",
    "Hôtel",
    "Restaurant",
    "Boucherie",
    "Fromagerie",
    "Imprimerie",
    "Plomberie",
    "Électricité",
    "Atelier",
    "Domaine",
    "Brasserie",
    "Fleuriste",
    "Opticien",
    "Agence",
]
_NAMES = [
    "Dupont",
    "Moreau",
    "Lambert",
    "Girard",
    "Bonnet",
    "Fontaine",
    "Rousseau",
    "Chevalier",
    "Mercier",
    "Blanc",
    "Guérin",
    "Faure",
    "Roussel",
    "Henry",
    "Perrin",
    "Morel",
    "Garnier",
    "Legrand",
    "Gauthier",
    "Leclerc",
    "Marchand",
    "Lemaire",
    "Duval",
    "Joly",
    "Renard",
]
_PLACES = [
    "du Centre",
    "de la Gare",
    "des Alpes",
    "du Port",
    "Saint-Michel",
    "des Halles",
    "de Provence",
    "du Marais",
    "de Bretagne",
    "du Lac",
]
_FORMS = ["SARL", "SAS", "EURL", "SASU", "SCI", "SA"]
_FIRST = [
    "Julie",
    "Thomas",
    "Camille",
    "Nicolas",
    "Émilie",
    "Antoine",
    "Léa",
    "Pierre",
    "Manon",
    "Hugo",
    "Chloé",
    "Louis",
    "Inès",
    "Paul",
    "Sarah",
]
_LAST = [
    "Bernard",
    "Petit",
    "Robert",
    "Richard",
    "Durand",
    "Dubois",
    "Laurent",
    "Simon",
    "Michel",
    "Lefebvre",
    "Leroy",
    "Roux",
    "David",
    "Bertrand",
    "Morin",
    "Fournier",
    "Girard",
    "André",
    "Mercier",
    "Dupuis",
    "Lambert",
    "Bonnet",
    "François",
    "Martinez",
    "Legrand",
    "Garnier",
    "Faure",
    "Rousseau",
    "Blanc",
    "Guérin",
    "Muller",
    "Henry",
    "Roussel",
    "Nicolas",
    "Perrin",
]


@dataclass(frozen=True)
class DemoPerson:
    object_id: str
    name: str
    email: str
    role: str


@dataclass
class DemoInfo:
    firm_id: int
    tenant_id: str
    firm_name: str
    staff: list[DemoPerson] = field(default_factory=list)
    contacts: list[DemoPerson] = field(default_factory=list)
    dossiers: int = 0

    def person(self, role: str) -> DemoPerson:
        return next(p for p in self.staff + self.contacts if p.role == role)


def _company_names(count: int) -> list[tuple[str, str]]:
    rng = random.Random(1789)
    seen: set[str] = set()
    result: list[tuple[str, str]] = []
    while len(result) < count:
        name = f"{rng.choice(_PREFIXES)} {rng.choice(_NAMES)} {rng.choice(_PLACES)} {rng.choice(_FORMS)}"
        if name in seen:
            continue
        seen.add(name)
        code = f"{name.split()[1][:3].upper().replace('É', 'E')}{len(result) + 1:03d}"
        result.append((code, name))
    return result


async def seed(sessions: Sessions, dossier_count: int = 200) -> DemoInfo:
    async with sessions() as session, session.begin():
        await sync_catalog(session)
        firm = await session.scalar(select(Firm).where(Firm.tenant_id == DEMO_TENANT_ID))
        if firm is None:
            firm = Firm(
                name=DEMO_FIRM_NAME,
                tenant_id=DEMO_TENANT_ID,
                domain=DEMO_DOMAIN,
                sic_codes=["SIC-75001", "SIC-69002"],
            )
            session.add(firm)
            await session.flush()
            record(session, firm.id, "system", "demo.seeded", "firm", firm.id)

        staff: dict[str, StaffUser] = {
            u.entra_object_id: u
            for u in await session.scalars(select(StaffUser).where(StaffUser.firm_id == firm.id))
        }
        for oid, name, local, role, rights, locale in DEMO_STAFF:
            if oid not in staff:
                staff[oid] = StaffUser(
                    firm_id=firm.id,
                    entra_object_id=oid,
                    display_name=name,
                    email=f"{local}@{DEMO_DOMAIN}",
                    role=role,
                    rights_manager=rights,
                    locale=locale,
                )
                session.add(staff[oid])

        paths = set(await session.scalars(select(Folder.path).where(Folder.firm_id == firm.id)))
        for top in FOLDERS:
            parent = await session.scalar(
                select(Folder).where(Folder.firm_id == firm.id, Folder.path == top)
            )
            if parent is None:
                parent = Folder(firm_id=firm.id, name=top, path=top)
                session.add(parent)
                await session.flush()
            for year in YEARS:
                if f"{top}/{year}" not in paths:
                    session.add(
                        Folder(
                            firm_id=firm.id, parent_id=parent.id, name=year, path=f"{top}/{year}"
                        )
                    )
        await session.flush()

        collaborators = [u for u in staff.values() if u.role == "collaborator"]
        admin = next(u for u in staff.values() if u.role == "administrator")
        codes = set(await session.scalars(select(Dossier.code).where(Dossier.firm_id == firm.id)))
        for index, (code, name) in enumerate(_company_names(dossier_count)):
            if code in codes:
                continue
            master = collaborators[index % len(collaborators)] if index % 5 else admin
            manager = collaborators[(index + 1) % len(collaborators)]
            session.add(
                Dossier(
                    firm_id=firm.id,
                    code=code,
                    name=name,
                    status="inactive" if index % 37 == 36 else "active",
                    master_id=master.id,
                    engagement_manager_id=manager.id,
                )
            )
        await session.flush()

        dossiers = list(
            await session.scalars(
                select(Dossier).where(Dossier.firm_id == firm.id).order_by(Dossier.code)
            )
        )
        emails = set(await session.scalars(select(Contact.email).where(Contact.firm_id == firm.id)))
        rng = random.Random(1848)
        for index, dossier in enumerate(dossiers[:60]):
            first = _FIRST[index % len(_FIRST)]
            last = _LAST[(index * 7) % len(_LAST)]
            email = f"{first.lower()}.{last.lower()}{index}@client-{dossier.code.lower()}.fr"
            email = unicodedata.normalize("NFKD", email).encode("ascii", "ignore").decode()
            if email in emails:
                continue
            # The first ten contacts are already guests on the tenant, so the bot can talk to them.
            guest = index < 10
            contact = Contact(
                firm_id=firm.id,
                first_name=first,
                last_name=last,
                email=email,
                phone=f"+33 6 {rng.randint(10, 99)} {rng.randint(10, 99)} "
                f"{rng.randint(10, 99)} {rng.randint(10, 99)}",
                entra_object_id=f"c0000000-0000-4000-8000-{index + 1:012d}" if guest else None,
                guest_state="guest" if guest else "none",
            )
            session.add(contact)
            await session.flush()
            session.add(
                ContactDossier(firm_id=firm.id, contact_id=contact.id, dossier_id=dossier.id)
            )
            if guest:
                dossier.teams_status = "operational"

    async with sessions() as session:
        total = await session.scalar(
            select(func.count()).select_from(Dossier).where(Dossier.firm_id == firm.id)
        )
        people = [
            DemoPerson(
                u.entra_object_id,
                u.display_name,
                u.email,
                "rights_manager" if u.rights_manager else u.role,
            )
            for u in await session.scalars(
                select(StaffUser).where(StaffUser.firm_id == firm.id).order_by(StaffUser.id)
            )
        ]
        contacts = [
            DemoPerson(c.entra_object_id or "", c.display_name, c.email, "contact")
            for c in await session.scalars(
                select(Contact)
                .where(Contact.firm_id == firm.id, Contact.entra_object_id.is_not(None))
                .order_by(Contact.id)
            )
        ]
    return DemoInfo(
        firm_id=firm.id,
        tenant_id=DEMO_TENANT_ID,
        firm_name=DEMO_FIRM_NAME,
        staff=people,
        contacts=contacts,
        dossiers=total or 0,
    )


# --------------------------------------------------------------------------- documents and deliveries
#
# What a firm looks like after a month of use: two partner applications connected to a few dossiers
# of each person's portfolio, ~40 documents received over the last 30 days, their deliveries in the
# states the worker leaves them in. Without it, History, the bot's ``historique``/``échecs`` and the
# dashboards of a fresh demo are empty.

OCR_APP = "ocr-achats"
EXPENSES_APP = "collecte-notes-de-frais"
# ``.invalid`` never resolves (RFC 2606): the pending deliveries fail fast, and the worker gives up
# after its bounded attempts, without ever reaching anybody.
OCR_API_URL = "https://api.ocr-factures.invalid/v2"
OCR_CONNECTED_FOLDERS = ("Achats", "Ventes")
EXPENSES_FOLDER = "Notes de frais"
DOSSIERS_PER_PERSON = 3
# Connections predate the documents they carry (a delivery only goes to an earlier connection).
CONNECTED_DAYS_AGO = 45

# A 16×16 JPEG (a receipt's outline); each demo picture gets its own comment segment, so that
# each is a different file.
_JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/4gHYSUNDX1BST0ZJTEUAAQEAAAHIAAAAAAQwAABtbnRyUkdCIFhZWiAH4AABAAEAAAAA"
    "AABhY3NwAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAQAA9tYAAQAAAADTLQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAlkZXNjAAAA8AAAACRyWFlaAAABFAAAABRnWFlaAAABKAAAABRiWFlaAAABPAAA"
    "ABR3dHB0AAABUAAAABRyVFJDAAABZAAAAChnVFJDAAABZAAAAChiVFJDAAABZAAAAChjcHJ0AAABjAAAADxtbHVjAAAAAAAA"
    "AAEAAAAMZW5VUwAAAAgAAAAcAHMAUgBHAEJYWVogAAAAAAAAb6IAADj1AAADkFhZWiAAAAAAAABimQAAt4UAABjaWFlaIAAA"
    "AAAAACSgAAAPhAAAts9YWVogAAAAAAAA9tYAAQAAAADTLXBhcmEAAAAAAAQAAAACZmYAAPKnAAANWQAAE9AAAApbAAAAAAAA"
    "AABtbHVjAAAAAAAAAAEAAAAMZW5VUwAAACAAAAAcAEcAbwBvAGcAbABlACAASQBuAGMALgAgADIAMAAxADb/2wBDABALDA4M"
    "ChAODQ4SERATGCgaGBYWGDEjJR0oOjM9PDkzODdASFxOQERXRTc4UG1RV19iZ2hnPk1xeXBkeFxlZ2P/2wBDARESEhgVGC8a"
    "Gi9jQjhCY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2P/wAARCAAQABADASIAAhEB"
    "AxEB/8QAFgABAQEAAAAAAAAAAAAAAAAAAgMG/8QAJRAAAQQBAwIHAAAAAAAAAAAAAwECBBESABMhImEFFDEyQXGx/8QAFQEB"
    "AQAAAAAAAAAAAAAAAAAAAQL/xAAUEQEAAAAAAAAAAAAAAAAAAAAA/9oADAMBAAIRAxEAPwDVTvEPKGQecJttyo8rbd6r8Yrx"
    "304Msku3VEcJOMwSFJ1cce1P3VDxylejmTDhSqxGjFRe/U1V0o4SBy3JJT3VbiMSvrFqakv/2Q=="
)


@dataclass(frozen=True)
class _Doc:
    """One demo document: where, what, when, by whom, and what became of its deliveries."""

    slot: int  # index in the chosen dossiers (DOSSIERS_PER_PERSON per person, in DEMO_STAFF order)
    folder: str
    name: str
    days_ago: int
    hour: int
    # One outcome per version: sent | pending | a failure reason (connectors.outcomes).
    outcomes: tuple[str, ...] = ("sent",)
    by: str = "master"  # master | contact (the dossier's guest, through the bot) | admin
    size: int = 0  # pad the file to this size (a scan too large for the application)


_DOCS: tuple[_Doc, ...] = (
    _Doc(0, "Achats/2026", "facture-0412-edf.pdf", 29, 9),
    _Doc(0, "Achats/2026", "facture-0413-orange-pro.pdf", 27, 14, by="contact"),
    _Doc(0, "Ventes/2026", "facture-vente-2026-118.pdf", 24, 11),
    _Doc(0, "Notes de frais/2026", "note-de-frais-taxi.jpg", 22, 18, by="contact"),
    _Doc(0, "Achats/2026", "releve-bancaire-2026-10.pdf", 9, 8, ("sent", "sent")),
    _Doc(1, "Achats/2026", "facture-metro-cash-carry-0921.pdf", 28, 10),
    _Doc(1, "Achats/2026", "grand-livre-fournisseurs-2026-09.csv", 21, 16, ("format_refused",)),
    _Doc(1, "Notes de frais/2026", "note-de-frais-restaurant-client.jpg", 17, 13),
    _Doc(1, "Ventes/2026", "facture-vente-2026-204.pdf", 3, 10, by="contact"),
    _Doc(2, "Achats/2026", "facture-0507-total-energies.pdf", 26, 15),
    _Doc(2, "Achats/2026", "avoir-fournisseur-0098.pdf", 12, 9),
    _Doc(2, "Administratif/2026", "kbis-2026-10.pdf", 11, 17),
    _Doc(3, "Achats/2026", "facture-2026-0931-bureau-vallee.pdf", 25, 9, ("credentials_refused",)),
    _Doc(3, "Achats/2026", "facture-2026-0944-free-pro.pdf", 25, 9, ("credentials_refused",)),
    _Doc(3, "Notes de frais/2026", "note-de-frais-peage-a7.jpg", 19, 12, by="contact"),
    _Doc(3, "Ventes/2026", "facture-vente-2026-087.pdf", 14, 10, ("sent", "sent")),
    _Doc(3, "Achats/2026", "facture-0611-sncf.pdf", 2, 8, by="contact"),
    _Doc(4, "Achats/2026", "facture-0588-leroy-merlin.pdf", 23, 11),
    _Doc(
        4,
        "Notes de frais/2026",
        "note-de-frais-hotel-lyon-scan.jpg",
        16,
        19,
        ("too_large",),
        size=6 * 1024 * 1024,
    ),
    _Doc(4, "Ventes/2026", "facture-vente-2026-311.pdf", 8, 15),
    _Doc(4, "Achats/2026", "releve-bancaire-2026-11.pdf", 1, 9, ("pending",)),
    _Doc(5, "Achats/2026", "facture-0472-engie.pdf", 20, 10, ("dossier_unknown",)),
    _Doc(5, "Ventes/2026", "facture-vente-2026-045.pdf", 20, 10, ("dossier_unknown",)),
    _Doc(5, "Achats/2026", "facture-0479-amazon-business.pdf", 6, 14),
    _Doc(6, "Achats/2026", "facture-0301-bouygues-telecom.pdf", 18, 9),
    _Doc(6, "Notes de frais/2026", "note-de-frais-parking.jpg", 10, 18, ("rejected",)),
    _Doc(6, "Ventes/2026", "facture-vente-2026-152.pdf", 7, 11, by="admin"),
    _Doc(7, "Achats/2026", "facture-0815-ovh-cloud.pdf", 15, 16, ("gave_up",)),
    _Doc(7, "Notes de frais/2026", "note-de-frais-train-paris.pdf", 13, 8),
    _Doc(7, "Achats/2026", "contrat-maintenance-2026.pdf", 5, 10, ("sent", "sent")),
    _Doc(8, "Achats/2026", "facture-0233-castorama.pdf", 27, 11, by="admin"),
    _Doc(8, "Administratif/2026", "attestation-urssaf-2026-t3.pdf", 22, 15),
    _Doc(8, "Ventes/2026", "facture-vente-2026-276.pdf", 4, 16),
    _Doc(9, "Achats/2026", "facture-0150-la-poste.pdf", 21, 9),
    _Doc(9, "Notes de frais/2026", "note-de-frais-carburant.jpg", 11, 12),
    _Doc(9, "Ventes/2026", "facture-vente-2026-019.pdf", 0, 9, ("pending",)),
    _Doc(10, "Achats/2026", "facture-0777-darty-pro.pdf", 19, 14),
    _Doc(10, "Achats/2026", "releve-bancaire-2026-09.pdf", 17, 10, ("gave_up",)),
    _Doc(11, "Ventes/2026", "facture-vente-2026-390.pdf", 12, 15),
    _Doc(11, "Achats/2026", "facture-0064-manutan.pdf", 6, 11),
    _Doc(11, "Notes de frais/2026", "note-de-frais-repas-equipe.jpg", 3, 13),
)

# What the application answered, per failure reason: (HTTP or SMTP answer, for the API; for mail).
_ANSWERS = {
    "dossier_unknown": (
        "HTTP 404 Aucun dossier {code} pour cette clé API",
        "550 5.1.1 <{email}>: adresse de collecte inconnue",
    ),
    "credentials_refused": (
        "HTTP 401 Clé API expirée le 30/10/2026",
        "535 5.7.8 Authentication credentials invalid",
    ),
    "rejected": (
        "HTTP 422 Document illisible",
        "554 5.7.1 Justificatif refusé : image illisible, merci de renvoyer une photo nette",
    ),
}


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


def _pdf(title: str, lines: list[str]) -> bytes:
    """A small valid one-page PDF showing ``lines`` (readers open it, partners would parse it)."""

    def escape(text: str) -> str:
        ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
        return ascii_text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    body = "BT /F1 16 Tf 56 780 Td (" + escape(title) + ") Tj /F1 11 Tf"
    for line in lines:
        body += " 0 -22 Td (" + escape(line) + ") Tj"
    stream = (body + " ET").encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)


def _content(doc: _Doc, dossier: Dossier, version: int) -> bytes:
    """The file of ``doc``'s version: deterministic, so a second seed recognises it."""
    label = f"{dossier.name} ({dossier.code}) — {doc.name} — version {version}"
    if doc.name.endswith(".csv"):
        rows = ["compte;libelle;debit;credit", "401000;Fournisseurs divers;0,00;1250,40"]
        return ("\n".join([f"# {label}", *rows]) + "\n").encode()
    if doc.name.endswith(".jpg"):
        comment = label.encode()
        segment = b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment
        data = _JPEG[:2] + segment + _JPEG[2:]
        # A phone's full-resolution scan: past the end of the picture, readers ignore the rest.
        return data + b"\x00" * max(0, doc.size - len(data))
    amount = 80 + (sum(map(ord, doc.name)) % 2400) + version
    return _pdf(
        doc.name.removesuffix(".pdf").replace("-", " ").capitalize(),
        [
            dossier.name,
            f"Dossier {dossier.code} - version {version}",
            f"Montant TTC : {amount},{version * 7 % 100:02d} EUR",
            "Document de demonstration Relais",
        ],
    )


def _db_time(hub: Hub, value: datetime) -> datetime:
    # SQLite keeps times as naive UTC text, PostgreSQL as timestamptz.
    value = value.astimezone(UTC)
    return value.replace(tzinfo=None) if hub.settings.is_sqlite else value


async def seed_activity(hub: Hub, now: datetime | None = None) -> ActivityInfo:
    """Add the demo firm's applications, connections, documents and deliveries (after
    :func:`seed`). Idempotent: an application already on the firm keeps its connections as they
    are, a document already in its folder is left alone."""
    now = now or datetime.now(UTC)
    info = ActivityInfo()
    async with hub.sessions() as session:
        firm = await session.scalar(select(Firm).where(Firm.tenant_id == DEMO_TENANT_ID))
        if firm is None:
            raise RuntimeError("seed the demo firm first")
        staff = {
            u.entra_object_id: u
            for u in await session.scalars(select(StaffUser).where(StaffUser.firm_id == firm.id))
        }
        admin = staff_actor(firm, staff[DEMO_STAFF[0][0]])
        chosen: list[Dossier] = []
        for oid, *_ in DEMO_STAFF:
            chosen += await session.scalars(
                select(Dossier)
                .where(
                    Dossier.firm_id == firm.id,
                    Dossier.master_id == staff[oid].id,
                    Dossier.status == "active",
                )
                .order_by(Dossier.code)
                .limit(DOSSIERS_PER_PERSON)
            )
        folders = {
            f.path: f.id
            for f in await session.scalars(select(Folder).where(Folder.firm_id == firm.id))
        }
        apps = {
            slug: app_id
            for slug, app_id in await session.execute(
                select(CatalogApp.slug, FirmApplication.id)
                .join(FirmApplication, FirmApplication.catalog_app_id == CatalogApp.id)
                .where(FirmApplication.firm_id == firm.id)
            )
        }
        masters = {u.id: staff_actor(firm, u) for u in staff.values()}
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
        existing = set(
            await session.execute(
                select(Document.dossier_id, Document.folder_id, Document.name).where(
                    Document.firm_id == firm.id
                )
            )
        )

    info.dossiers = [d.code for d in chosen]
    new_apps: list[int] = []
    if OCR_APP not in apps:
        added = await add_application(
            hub,
            admin,
            Definition(
                app=OCR_APP,
                api_key_id="DURAND-7731-ACH",
                secret="demo-secret-never-sent",
                api_url=OCR_API_URL,
                sic_code=firm.sic_codes[0] if firm.sic_codes else "",
            ),
        )
        apps[OCR_APP] = added.id
        new_apps.append(added.id)
        for index, path in enumerate(OCR_CONNECTED_FOLDERS):
            saved = await connections.save(
                hub,
                admin,
                added.id,
                folders[path],
                [
                    Entry(d.id, True, f"CL-{4100 + n * 17}", add_folder=index > 0)
                    for n, d in enumerate(chosen)
                ],
            )
            info.connections += saved.count("connected")
    if EXPENSES_APP not in apps:
        added = await add_application(hub, admin, Definition(app=EXPENSES_APP))
        apps[EXPENSES_APP] = added.id
        new_apps.append(added.id)
        # Two dossiers of each person: the partner's generated addresses, as a firm would type them.
        saved = await connections.save(
            hub,
            admin,
            added.id,
            folders[EXPENSES_FOLDER],
            [
                Entry(d.id, True, f"{d.code.lower()}.ndf@collecte.{DEMO_DOMAIN}")
                for n, d in enumerate(chosen)
                if n % DOSSIERS_PER_PERSON != 2
            ],
        )
        info.connections += saved.count("connected")
    info.applications = len(new_apps)
    if new_apps:
        async with hub.sessions() as session, session.begin():
            since = _db_time(hub, now - timedelta(days=CONNECTED_DAYS_AGO))
            ids = select(Connection.id).where(Connection.firm_application_id.in_(new_apps))
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
                    AuditEvent.firm_id == firm.id,
                    AuditEvent.target_type == "firm_application",
                    AuditEvent.target_id.in_([str(i) for i in new_apps]),
                )
                .values(at=since)
            )

    # Received in time order, as they would have been: History lists the newest first by the
    # order things were stored.
    arrivals: list[tuple[datetime, int, int, str]] = []
    for number, doc in enumerate(_DOCS):
        if doc.slot >= len(chosen):
            continue
        if (chosen[doc.slot].id, folders[doc.folder], doc.name) in existing:
            continue
        info.documents += 1
        for version, outcome in enumerate(doc.outcomes, start=1):
            # Versions of one document come a few days apart, the last one on ``days_ago``.
            days = doc.days_ago + 3 * (len(doc.outcomes) - version)
            at = (now - timedelta(days=days)).replace(hour=doc.hour, minute=(number * 7) % 60)
            arrivals.append(
                (min(at, now - timedelta(minutes=30 + number)), number, version, outcome)
            )
    for at, number, version, outcome in sorted(arrivals):
        doc = _DOCS[number]
        dossier = chosen[doc.slot]
        if doc.by == "contact" and dossier.id in guests:
            actor = guests[dossier.id]
        elif doc.by == "admin":
            actor = admin
        else:
            actor = masters.get(dossier.master_id or 0, admin)
        # Only a contact's documents come through the bot here; staff's come from the panel.
        source = "bot" if actor.kind == "contact" else "panel"
        receipt = await receive_document(
            hub, actor, dossier.code, doc.folder, doc.name, _content(doc, dossier, version), source
        )
        info.versions += 1
        rng = random.Random(number * 10 + version)
        await _settle(hub, receipt.version_id, dossier, outcome, at, now, rng, info)
    return info


async def _settle(
    hub: Hub,
    version_id: int,
    dossier: Dossier,
    outcome: str,
    at: datetime,
    now: datetime,
    rng: random.Random,
    info: ActivityInfo,
) -> None:
    """Date the version, and leave its deliveries as the worker would have: sent with the
    application's reference, failed with its answer (already told), or waiting for a retry."""
    async with hub.sessions() as session, session.begin():
        version = await session.get(DocumentVersion, version_id)
        assert version is not None
        version.created_at = _db_time(hub, at)
        document = await session.get(Document, version.document_id)
        if document is not None and version.number == 1:
            document.created_at = _db_time(hub, at)
        await session.execute(
            update(AuditEvent)
            .where(
                AuditEvent.firm_id == version.firm_id,
                AuditEvent.action == "document.received",
                AuditEvent.target_type == "document_version",
                AuditEvent.target_id == str(version_id),
            )
            .values(at=_db_time(hub, at))
        )
        rows = await session.execute(
            select(Delivery, Connection, CatalogApp)
            .join(Connection, Connection.id == Delivery.connection_id)
            .join(FirmApplication, FirmApplication.id == Connection.firm_application_id)
            .join(CatalogApp, CatalogApp.id == FirmApplication.catalog_app_id)
            .where(Delivery.document_version_id == version_id)
        )
        for delivery, connection, app in rows:
            api = app.connection == "api"
            tries: list[tuple[datetime, str, str]] = []
            moment = at + timedelta(seconds=rng.randint(2, 40))
            delivery.created_at = _db_time(hub, at)
            if outcome == "sent":
                if rng.random() < 0.2:
                    # The application was briefly down: one retry, as it happens.
                    tries.append((moment, "fault", "HTTP 503 Service Unavailable"))
                    moment += timedelta(seconds=rng.randint(3, 30))
                if api:
                    reference = f"OCR-{at:%Y%m}-{rng.randint(10000, 99999)}"
                    detail = f'HTTP 201 {{"reference": "{reference}", "status": "queued"}}'
                else:
                    reference = f"<{delivery.idempotency_key}@relais.{DEMO_DOMAIN}>"
                    detail = f"accepted for {connection.collection_email}"
                tries.append((moment, "sent", f"reference {reference}: {detail}"))
                delivery.status = "sent"
                delivery.app_reference = reference
                delivery.sent_at = _db_time(hub, moment)
            elif outcome == "pending":
                for _ in range(2):
                    tries.append((moment, "fault", "HTTP 503 Service Unavailable"))
                    moment += timedelta(seconds=rng.randint(4, 12))
                delivery.status = "pending"
                # The retry is due later: what a person opening the demo sees as "waiting".
                delivery.next_attempt_at = _db_time(hub, now + timedelta(minutes=25))
            else:
                if outcome == "gave_up":
                    for attempt in range(8):
                        tries.append((moment, "fault", "timeout: ConnectTimeout"))
                        moment += timedelta(seconds=2 ** (attempt + 1))
                elif outcome == "too_large":
                    limit = app.max_size or 0
                    detail = f"{version.size} bytes; {app.label} accepts {limit} at most"
                    tries.append((moment, "refused", f"too_large: {detail}"))
                elif outcome == "format_refused":
                    accepted = ", ".join(app.accepted_formats)
                    detail = f"{version.content_type}; {app.label} accepts {accepted}"
                    tries.append((moment, "refused", f"format_refused: {detail}"))
                else:
                    answer = _ANSWERS[outcome][0 if api else 1].format(
                        code=connection.dossier_code_at_app, email=connection.collection_email
                    )
                    tries.append((moment, "refused", f"{outcome}: {answer}"))
                delivery.status = "failed"
                delivery.failure_reason = outcome
                # Already told in Teams: a fresh demo sends no burst of failure notices.
                delivery.notified_at = _db_time(hub, moment + timedelta(minutes=2))
            if outcome != "pending":
                delivery.next_attempt_at = _db_time(hub, moment)
            delivery.attempts = len(tries)
            session.add_all(
                DeliveryAttempt(
                    firm_id=delivery.firm_id,
                    delivery_id=delivery.id,
                    at=_db_time(hub, when),
                    outcome=kind,
                    detail=detail,
                )
                for when, kind, detail in tries
            )
            info.deliveries[outcome] = info.deliveries.get(outcome, 0) + 1
