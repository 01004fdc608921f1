"""The demo firm: staff of each role, ~200 dossiers with French company names, contacts, the catalog.

``seed`` is idempotent: run again, it keeps what is there (and anything people changed) and only
adds what is missing. Identifiers are fixed so that a Teams-shaped activity can be posted by hand
with the ids ``relais demo`` prints.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass, field

from sqlalchemy import func, select

from hub.audit import record
from hub.catalog import sync_catalog
from storage.db import Sessions
from storage.models import Contact, ContactDossier, Dossier, Firm, Folder, StaffUser

DEMO_TENANT_ID = "7d3c1f0e-5b1a-4c7e-9d2f-0a1b2c3d4e5f"
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
