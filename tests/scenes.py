"""Small scenes for tests: a firm and just what a test needs of it, said in the test.

Where the demo firm (:mod:`relais.demo`, 200 dossiers and a month of activity) is not the point, a
test arranges its own scene here: a firm on its tenant, a staff member of a given role (or a team
of them), a few dossiers with their master, a contact, an application connected to a folder, a
document. Each builder writes through the models in its own transaction (the catalog through the
hub's own synchronisation, a document through the hub's intake) and returns plain frozen
dataclasses — ids and the values tests assert on, never rows bound to a closed session.
:func:`office` puts the usual ones together.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from hub.applications import sync_catalog
from hub.documents import receive_document
from hub.identity import Actor, resolve
from hub.services import Hub
from storage.db import Sessions
from storage.models import (
    CatalogApp,
    Connection,
    ConnectionFolder,
    Contact,
    ContactDossier,
    Dossier,
    Firm,
    FirmApplication,
    Folder,
    StaffUser,
)

FOLDERS = ("Achats", "Achats/2025", "Ventes", "Ventes/2025")


@dataclass(frozen=True)
class FirmScene:
    id: int
    tenant_id: str
    name: str
    domain: str


@dataclass(frozen=True)
class Person:
    """A member of the firm's staff."""

    id: int
    firm_id: int
    object_id: str  # Entra object id
    name: str
    email: str
    role: str  # administrator | collaborator
    rights_manager: bool
    locale: str


@dataclass(frozen=True)
class DossierScene:
    id: int
    code: str
    name: str
    master_id: int | None
    status: str


@dataclass(frozen=True)
class ContactScene:
    id: int
    email: str
    object_id: str | None  # set when the contact is a guest on the tenant
    dossier_ids: tuple[int, ...]


@dataclass(frozen=True)
class ApplicationScene:
    """A catalog application the firm added."""

    id: int  # the firm application's
    slug: str
    connection: str  # api | collection_email | none


@dataclass(frozen=True)
class Office:
    """A firm with its administrator, its folders and a few dossiers the administrator masters."""

    firm: FirmScene
    admin: Person
    folders: dict[str, int] = field(default_factory=dict)  # path → id
    dossiers: list[DossierScene] = field(default_factory=list)

    @property
    def dossier(self) -> DossierScene:
        """The first dossier, for tests that need one."""
        return self.dossiers[0]


async def firm(
    sessions: Sessions,
    name: str = "Cabinet Martin",
    *,
    tenant_id: str | None = None,
    domain: str = "cabinet-martin.example",
    catalog: bool = True,
) -> FirmScene:
    """A firm on its own tenant (a fresh one unless given); the catalog synchronised, as every
    started Relais has it."""
    tenant_id = tenant_id or str(uuid.uuid4())
    async with sessions() as session, session.begin():
        if catalog:
            await sync_catalog(session)
        row = Firm(name=name, tenant_id=tenant_id, domain=domain)
        session.add(row)
        await session.flush()
        return FirmScene(row.id, tenant_id, name, domain)


async def staff(
    sessions: Sessions,
    firm: FirmScene,
    role: str = "administrator",
    *,
    name: str | None = None,
    rights_manager: bool = False,
    locale: str = "fr",
    object_id: str | None = None,
) -> Person:
    """A staff member of ``role`` (administrator | collaborator), active."""
    object_id = object_id or str(uuid.uuid4())
    name = name or f"{role.capitalize()} {object_id[:4]}"
    email = f"{name.lower().replace(' ', '.')}@{firm.domain}"
    async with sessions() as session, session.begin():
        row = StaffUser(
            firm_id=firm.id,
            entra_object_id=object_id,
            email=email,
            display_name=name,
            role=role,
            rights_manager=rights_manager,
            locale=locale,
        )
        session.add(row)
        await session.flush()
        return Person(row.id, firm.id, object_id, name, email, role, rights_manager, locale)


async def team(sessions: Sessions, firm: FirmScene, people: Mapping[str, str]) -> dict[str, Person]:
    """The staff ``people`` (name → administrator | rights manager | collaborator, a rights
    manager being a collaborator in the rights-managers group), made in that order; name →
    person."""
    made: dict[str, Person] = {}
    for name, kind in people.items():
        manager = kind == "rights manager"
        role = "collaborator" if manager else kind
        made[name] = await staff(sessions, firm, role, name=name, rights_manager=manager)
    return made


async def folders(sessions: Sessions, firm: FirmScene, *paths: str) -> dict[str, int]:
    """The folders at ``paths`` (``Achats/2025``), their missing parents made first; path → id
    of every folder of the firm."""
    async with sessions() as session, session.begin():
        made: dict[str, int] = {
            path: folder_id
            for path, folder_id in await session.execute(
                select(Folder.path, Folder.id).where(Folder.firm_id == firm.id)
            )
        }
        for path in paths:
            parts = path.split("/")
            for depth in range(1, len(parts) + 1):
                current = "/".join(parts[:depth])
                if current in made:
                    continue
                row = Folder(
                    firm_id=firm.id,
                    parent_id=made.get("/".join(parts[: depth - 1])),
                    name=parts[depth - 1],
                    path=current,
                )
                session.add(row)
                await session.flush()
                made[current] = row.id
    return made


async def dossiers(
    sessions: Sessions,
    firm: FirmScene,
    master: Person | None,
    count: int = 1,
    *,
    prefix: str = "DOS",
    status: str = "active",
    manager: Person | None = None,
) -> list[DossierScene]:
    """``count`` dossiers ``PREFIX001``… named "Client PREFIX001"…, mastered by ``master``."""
    made: list[DossierScene] = []
    async with sessions() as session, session.begin():
        for number in range(1, count + 1):
            code = f"{prefix}{number:03d}"
            row = Dossier(
                firm_id=firm.id,
                code=code,
                name=f"Client {code}",
                status=status,
                master_id=master.id if master else None,
                engagement_manager_id=manager.id if manager else None,
            )
            session.add(row)
            await session.flush()
            made.append(DossierScene(row.id, code, row.name, row.master_id, status))
    return made


async def contact(
    sessions: Sessions,
    firm: FirmScene,
    *on: DossierScene,
    first_name: str = "Julie",
    last_name: str = "Petit",
    email: str | None = None,
    guest: bool = True,
    locale: str = "fr",
) -> ContactScene:
    """A client contact on the dossiers ``on``; a guest on the tenant (with an object id) unless
    ``guest`` is false."""
    object_id = str(uuid.uuid4()) if guest else None
    email = email or f"{first_name}.{last_name}.{uuid.uuid4().hex[:6]}@client.example".lower()
    async with sessions() as session, session.begin():
        row = Contact(
            firm_id=firm.id,
            first_name=first_name,
            last_name=last_name,
            email=email,
            locale=locale,
            entra_object_id=object_id,
            guest_state="guest" if guest else "none",
        )
        session.add(row)
        await session.flush()
        session.add_all(
            ContactDossier(firm_id=firm.id, contact_id=row.id, dossier_id=dossier.id)
            for dossier in on
        )
        return ContactScene(row.id, email, object_id, tuple(d.id for d in on))


async def application(
    hub: Hub,
    firm_id: int,
    slug: str,
    *,
    api_url: str = "",
    api_key_id: str = "",
    secret: str | None = None,
    limits: dict[str, Any] | None = None,
    fields: dict[str, Any] | None = None,
) -> ApplicationScene:
    """The firm adds catalog application ``slug`` (the secret sealed by the hub's vault);
    ``limits`` overrides the catalog's ``max_size``/``accepted_formats`` (so that the partner,
    not Relais, gets to refuse)."""
    async with hub.sessions() as session, session.begin():
        app = await session.scalar(select(CatalogApp).where(CatalogApp.slug == slug))
        assert app is not None, f"no catalog application {slug}"
        for key, value in (limits or {}).items():
            setattr(app, key, value)
        api = app.connection == "api"
        row = FirmApplication(
            firm_id=firm_id,
            catalog_app_id=app.id,
            api_url=api_url,
            api_key_id=api_key_id if api else "",
            secret_encrypted=hub.vault.seal(secret) if secret and api else None,
            specific_fields=fields or {},
        )
        session.add(row)
        await session.flush()
        return ApplicationScene(row.id, slug, app.connection)


async def connection(
    sessions: Sessions,
    firm_id: int,
    app_id: int,
    dossier_id: int,
    folder_paths: Sequence[str],
    *,
    code_at_app: str = "",
    collection_email: str = "",
    connected_at: datetime | None = None,
    active: bool = True,
) -> int:
    """The dossier connected to the firm application for the folders at ``folder_paths`` (and
    their sub-folders), added to its connection if it has one; the connection's id."""
    async with sessions() as session, session.begin():
        row = await session.scalar(
            select(Connection).where(
                Connection.firm_application_id == app_id, Connection.dossier_id == dossier_id
            )
        )
        if row is None:
            row = Connection(
                firm_id=firm_id,
                firm_application_id=app_id,
                dossier_id=dossier_id,
                dossier_code_at_app=code_at_app,
                collection_email=collection_email,
                active=active,
            )
            session.add(row)
            await session.flush()
        for path in folder_paths:
            folder_id = await session.scalar(
                select(Folder.id).where(Folder.firm_id == firm_id, Folder.path == path)
            )
            assert folder_id is not None, f"no folder {path}"
            session.add(
                ConnectionFolder(
                    firm_id=firm_id,
                    connection_id=row.id,
                    folder_id=folder_id,
                    connected_at=connected_at or datetime.now(UTC),
                )
            )
        return row.id


async def document(
    hub: Hub, by: Actor, dossier: DossierScene, folder: str, name: str, *, source: str = "panel"
) -> int:
    """``name``, a small PDF, received from ``by`` in the dossier's ``folder`` through the hub's
    intake (so deliveries are queued for the dossier's connections, if any); the document's id."""
    data = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n% " + name.encode() + b"\n"
    receipt = await receive_document(hub, by, dossier.code, folder, name, data, source)
    return receipt.document_id


async def actor(sessions: Sessions, firm: FirmScene, person: Person | ContactScene) -> Actor:
    """``person`` as the hub sees them when they arrive from Teams or the panel."""
    return await resolve(sessions, firm.tenant_id, person.object_id)


async def office(
    sessions: Sessions,
    *,
    dossier_count: int = 1,
    folder_paths: Sequence[str] = FOLDERS,
    name: str = "Cabinet Martin",
) -> Office:
    """A firm (catalog synchronised), its administrator, ``folder_paths`` and ``dossier_count``
    active dossiers ``DOS001``… mastered by the administrator."""
    made = await firm(sessions, name)
    admin = await staff(sessions, made, "administrator", name="Alice Admin")
    return Office(
        firm=made,
        admin=admin,
        folders=await folders(sessions, made, *folder_paths),
        dossiers=await dossiers(sessions, made, admin, dossier_count),
    )
