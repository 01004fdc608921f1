"""The demo firm itself: staff of each role, ~200 dossiers with French company names, contacts,
the catalog.

:func:`seed` is idempotent: run again, it keeps what is there (and anything people changed) and
only adds what is missing. Identifiers are fixed so that a Teams-shaped activity can be posted by
hand with the ids ``relais demo`` prints. Names are drawn from the data files with seeded random
generators: the same firm every time.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.applications import sync_catalog
from hub.audit import record
from hub.settings import DEMO_TENANT_ID
from relais.demo.dataset import DEMO_STAFF, FIRM, NAMES
from storage.db import Sessions
from storage.models import Contact, ContactDossier, Dossier, Firm, Folder, StaffUser, utcnow

DEMO_FIRM_NAME = FIRM.name
DEMO_DOMAIN = FIRM.domain
# The first contacts are already guests on the tenant, so the bot can talk to them; only the
# first dossiers (in code order) get a contact at all.
GUEST_CONTACTS = 10
DOSSIERS_WITH_A_CONTACT = 60


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


def company_names(count: int) -> list[tuple[str, str]]:
    """The demo dossiers' (code, name), in the order they are created."""
    rng = random.Random(1789)
    seen: set[str] = set()
    result: list[tuple[str, str]] = []
    while len(result) < count:
        name = (
            f"{rng.choice(NAMES.prefixes)} {rng.choice(NAMES.names)} "
            f"{rng.choice(NAMES.places)} {rng.choice(NAMES.forms)}"
        )
        if name in seen:
            continue
        seen.add(name)
        code = f"{name.split()[1][:3].upper().replace('É', 'E')}{len(result) + 1:03d}"
        result.append((code, name))
    return result


async def seed(sessions: Sessions, dossier_count: int = 200) -> DemoInfo:
    """The demo firm on the demo tenant, with what is missing of its staff, folders, dossiers
    and contacts; the catalog synchronised."""
    async with sessions() as session, session.begin():
        await sync_catalog(session)
        firm = await _firm(session)
        staff = await _staff(session, firm.id)
        await _folders(session, firm.id)
        await _dossiers(session, firm.id, staff, dossier_count)
        await _contacts(session, firm.id)
    return await _info(sessions, firm.id)


async def _firm(session: AsyncSession) -> Firm:
    firm = await session.scalar(select(Firm).where(Firm.tenant_id == DEMO_TENANT_ID))
    if firm is None:
        firm = Firm(
            name=FIRM.name,
            tenant_id=DEMO_TENANT_ID,
            domain=FIRM.domain,
            sic_codes=list(FIRM.sic_codes),
        )
        session.add(firm)
        await session.flush()
        record(session, firm.id, "system", "demo.seeded", "firm", firm.id)
    return firm


async def _staff(session: AsyncSession, firm_id: int) -> list[StaffUser]:
    staff: dict[str, StaffUser] = {
        u.entra_object_id: u
        for u in await session.scalars(select(StaffUser).where(StaffUser.firm_id == firm_id))
    }
    for person in DEMO_STAFF:
        if person.object_id not in staff:
            staff[person.object_id] = StaffUser(
                firm_id=firm_id,
                entra_object_id=person.object_id,
                display_name=person.name,
                email=f"{person.email_local}@{FIRM.domain}",
                role=person.role,
                rights_manager=person.rights_manager,
                locale=person.locale,
            )
            session.add(staff[person.object_id])
    return list(staff.values())


async def _folders(session: AsyncSession, firm_id: int) -> None:
    paths = set(await session.scalars(select(Folder.path).where(Folder.firm_id == firm_id)))
    for top in FIRM.folders:
        parent = await session.scalar(
            select(Folder).where(Folder.firm_id == firm_id, Folder.path == top)
        )
        if parent is None:
            parent = Folder(firm_id=firm_id, name=top, path=top)
            session.add(parent)
            await session.flush()
        session.add_all(
            Folder(firm_id=firm_id, parent_id=parent.id, name=year, path=f"{top}/{year}")
            for year in FIRM.years
            if f"{top}/{year}" not in paths
        )
    await session.flush()


async def _dossiers(
    session: AsyncSession, firm_id: int, staff: list[StaffUser], count: int
) -> None:
    """Every fifth dossier is the administrator's, the others go round the collaborators; one in
    37 is inactive."""
    collaborators = [u for u in staff if u.role == "collaborator"]
    admin = next(u for u in staff if u.role == "administrator")
    codes = set(await session.scalars(select(Dossier.code).where(Dossier.firm_id == firm_id)))
    for index, (code, name) in enumerate(company_names(count)):
        if code in codes:
            continue
        master = collaborators[index % len(collaborators)] if index % 5 else admin
        manager = collaborators[(index + 1) % len(collaborators)]
        session.add(
            Dossier(
                firm_id=firm_id,
                code=code,
                name=name,
                status="inactive" if index % 37 == 36 else "active",
                master_id=master.id,
                engagement_manager_id=manager.id,
            )
        )
    await session.flush()


def _contact_email(index: int, first: str, last: str, dossier_code: str) -> str:
    email = f"{first.lower()}.{last.lower()}{index}@client-{dossier_code.lower()}.fr"
    return unicodedata.normalize("NFKD", email).encode("ascii", "ignore").decode()


async def _contacts(session: AsyncSession, firm_id: int) -> None:
    dossiers = list(
        await session.scalars(
            select(Dossier).where(Dossier.firm_id == firm_id).order_by(Dossier.code)
        )
    )
    emails = set(await session.scalars(select(Contact.email).where(Contact.firm_id == firm_id)))
    rng = random.Random(1848)
    for index, dossier in enumerate(dossiers[:DOSSIERS_WITH_A_CONTACT]):
        first = NAMES.first[index % len(NAMES.first)]
        last = NAMES.last[(index * 7) % len(NAMES.last)]
        email = _contact_email(index, first, last, dossier.code)
        if email in emails:
            continue
        guest = index < GUEST_CONTACTS
        digits = " ".join(str(rng.randint(10, 99)) for _ in range(4))
        contact = Contact(
            firm_id=firm_id,
            first_name=first,
            last_name=last,
            email=email,
            phone=f"+33 6 {digits}",
            entra_object_id=f"c0000000-0000-4000-8000-{index + 1:012d}" if guest else None,
            guest_state="guest" if guest else "none",
        )
        session.add(contact)
        await session.flush()
        session.add(ContactDossier(firm_id=firm_id, contact_id=contact.id, dossier_id=dossier.id))
        if guest:
            dossier.teams_status = "operational"


async def _info(sessions: Sessions, firm_id: int) -> DemoInfo:
    """What ``relais demo`` prints and tests use: the firm's people and its dossier count."""
    async with sessions() as session:
        total = await session.scalar(
            select(func.count()).select_from(Dossier).where(Dossier.firm_id == firm_id)
        )
        people = [
            DemoPerson(
                u.entra_object_id,
                u.display_name,
                u.email,
                "rights_manager" if u.rights_manager else u.role,
            )
            for u in await session.scalars(
                select(StaffUser).where(StaffUser.firm_id == firm_id).order_by(StaffUser.id)
            )
        ]
        contacts = [
            DemoPerson(c.entra_object_id or "", c.display_name, c.email, "contact")
            for c in await session.scalars(
                select(Contact)
                .where(Contact.firm_id == firm_id, Contact.entra_object_id.is_not(None))
                .order_by(Contact.id)
            )
        ]
    return DemoInfo(
        firm_id=firm_id,
        tenant_id=DEMO_TENANT_ID,
        firm_name=FIRM.name,
        staff=people,
        contacts=contacts,
        dossiers=total or 0,
    )


async def grant_consent(sessions: Sessions) -> bool:
    """The demo tenant's administrator has granted Relais its permissions: recorded on the demo
    firm as the panel's consent flow records it (the demo's Microsoft stand-in gives tokens with
    the roles, so "check again" finds the same). True when it was not recorded yet."""
    async with sessions() as session, session.begin():
        firm = await session.scalar(select(Firm).where(Firm.tenant_id == DEMO_TENANT_ID))
        if firm is None or (firm.consent_state == "granted" and not firm.consent_error):
            return False
        before = firm.consent_state
        firm.consent_state, firm.consent_error, firm.consent_checked_at = "granted", "", utcnow()
        record(
            session,
            firm.id,
            "system",
            "tenant.consent_recorded",
            "firm",
            firm.id,
            before=before,
            after="granted",
        )
    return True
