"""Reading a dossier's folders and documents: the panel's folder view, the REST API's listing, and
the places the bot offers for a file (read-only; storing a file is :mod:`hub.documents.intake`).

Who sees a dossier's documents is :func:`hub.rights.visible_dossiers`, the rule of the History
drawer too: administrators and rights managers every dossier of the firm, other staff the dossiers
they are master or engagement manager of (their portfolio); an API token and the command line act
for the whole firm. Another staff member's dossier is refused with a page that says whom to ask; a
contact may only pick, to drop a file, among the dossiers they are linked to.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import case, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.errors import InvalidInput, PermissionDenied
from hub.history.people import person_names
from hub.identity import Actor
from hub.paging import PER_PAGE, Page
from hub.portfolio import dossier_by_code
from hub.rights import FIRM_READERS, require_document_reader, visible_dossiers
from hub.services import Hub
from storage.models import (
    ContactDossier,
    Delivery,
    Document,
    DocumentVersion,
    Dossier,
    Folder,
    StaffUser,
)

# How many dossiers the bot offers in its "where should I file this?" card.
CHOICES = 50


@dataclass(frozen=True)
class FolderEntry:
    id: int
    path: str
    name: str
    depth: int
    documents: int  # in this dossier, in this folder itself


@dataclass(frozen=True)
class DeliverySummary:
    pending: int = 0  # pending or being sent
    sent: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.pending + self.sent + self.failed


@dataclass(frozen=True)
class DocumentEntry:
    id: int
    name: str
    folder: str
    version: int
    size: int
    content_type: str
    sha256: str
    uploaded_by: str  # a name as a person reads it ("" when unknown)
    uploader_kind: str  # staff | contact | token | system
    source: str  # panel | api | bot | cli
    uploaded_at: datetime
    deliveries: DeliverySummary = field(default_factory=DeliverySummary)


@dataclass(frozen=True)
class FolderView:
    code: str
    name: str
    folders: list[FolderEntry]
    selected: FolderEntry | None
    documents: Page[DocumentEntry]


@dataclass(frozen=True)
class DossierChoice:
    code: str
    name: str


@dataclass(frozen=True)
class UploadPlaces:
    dossiers: list[DossierChoice]
    folders: list[str]  # top-level folders of the firm's tree


async def _readable_dossier(session: AsyncSession, actor: Actor, code: str) -> Dossier:
    """The firm's dossier ``code`` if ``actor`` may read its documents: NotFound when the firm has
    none, PermissionDenied (naming whom to ask) when it is outside the actor's portfolio."""
    require_document_reader(actor)
    dossier = await dossier_by_code(session, actor, code)
    if await session.scalar(
        select(exists().where(Dossier.id == dossier.id, visible_dossiers(actor)))
    ):
        return dossier
    people = {
        ident: name
        for ident, name in await session.execute(
            select(StaffUser.id, StaffUser.display_name).where(
                StaffUser.firm_id == actor.firm_id,
                StaffUser.id.in_([dossier.master_id or 0, dossier.engagement_manager_id or 0]),
            )
        )
    }
    master = people.get(dossier.master_id or 0, "")
    manager = people.get(dossier.engagement_manager_id or 0, "")
    raise PermissionDenied(
        f"{actor.ref} may not read dossier {dossier.code}: not in their portfolio",
        key="documents.not_in_portfolio"
        if master or manager
        else "documents.not_in_portfolio_ask_admin",
        code=dossier.code,
        ask=master or manager,
    )


def normalise_path(raw: str) -> str:
    return "/".join(part.strip() for part in raw.strip().strip("/").split("/"))


async def _folders(session: AsyncSession, actor: Actor, dossier: Dossier) -> list[FolderEntry]:
    counts = dict(
        (
            await session.execute(
                select(Document.folder_id, func.count())
                .where(Document.firm_id == actor.firm_id, Document.dossier_id == dossier.id)
                .group_by(Document.folder_id)
            )
        ).all()
    )
    folders = await session.scalars(
        select(Folder).where(Folder.firm_id == actor.firm_id).order_by(Folder.path)
    )
    return [
        FolderEntry(f.id, f.path, f.name, f.path.count("/"), int(counts.get(f.id, 0)))
        for f in folders
    ]


async def _documents(
    session: AsyncSession,
    actor: Actor,
    dossier: Dossier,
    folder_id: int | None,
    page: int,
    per_page: int = PER_PAGE,
) -> Page[DocumentEntry]:
    where = [Document.firm_id == actor.firm_id, Document.dossier_id == dossier.id]
    if folder_id is not None:
        where.append(Document.folder_id == folder_id)
    total = await session.scalar(select(func.count()).select_from(Document).where(*where)) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    latest = (
        select(DocumentVersion.document_id, func.max(DocumentVersion.number).label("number"))
        .join(Document, Document.id == DocumentVersion.document_id)
        .where(*where)
        .group_by(DocumentVersion.document_id)
        .subquery()
    )
    rows = (
        await session.execute(
            select(Document, Folder.path, DocumentVersion)
            .join(Folder, Folder.id == Document.folder_id)
            .join(latest, latest.c.document_id == Document.id)
            .join(
                DocumentVersion,
                (DocumentVersion.document_id == Document.id)
                & (DocumentVersion.number == latest.c.number),
            )
            .where(*where)
            .order_by(Folder.path, Document.name, Document.id)
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    ).all()
    version_ids = [v.id for _, _, v in rows]
    summaries: dict[int, dict[str, int]] = defaultdict(dict)
    if version_ids:
        state = case(
            (Delivery.status == "sent", "sent"),
            (Delivery.status == "failed", "failed"),
            else_="pending",
        )
        for version_id, status, n in await session.execute(
            select(Delivery.document_version_id, state, func.count())
            .where(Delivery.document_version_id.in_(version_ids))
            .group_by(Delivery.document_version_id, state)
        ):
            summaries[version_id][status] = int(n)
    names = await person_names(session, actor.firm_id, {v.uploaded_by for _, _, v in rows})
    items = [
        DocumentEntry(
            id=document.id,
            name=document.name,
            folder=path,
            version=version.number,
            size=version.size,
            content_type=version.content_type,
            sha256=version.sha256,
            uploaded_by=names.get(version.uploaded_by, ""),
            uploader_kind=version.uploaded_by.partition(":")[0],
            source=version.source,
            uploaded_at=version.created_at,
            deliveries=DeliverySummary(**summaries.get(version.id, {})),
        )
        for document, path, version in rows
    ]
    return Page(items=items, number=page, per_page=per_page, total=total)


def _folder_named(folders: list[FolderEntry], path: str) -> FolderEntry:
    for entry in folders:
        if entry.path == path:
            return entry
    raise InvalidInput(f"no folder {path!r}", field="folder", key="documents.no_folder", path=path)


async def folder_view(
    hub: Hub, actor: Actor, code: str, folder: str | None = None, *, page: int = 1
) -> FolderView:
    """The panel's view of a dossier: the firm's folder tree (with how many documents the dossier
    has in each), and one page of the documents of ``folder`` (default: the first folder)."""
    async with hub.sessions() as session:
        dossier = await _readable_dossier(session, actor, code)
        folders = await _folders(session, actor, dossier)
        selected: FolderEntry | None = None
        if folder:
            selected = _folder_named(folders, normalise_path(folder))
        elif folders:
            selected = folders[0]
        if selected is None:
            documents: Page[DocumentEntry] = Page(items=[], number=1, per_page=PER_PAGE, total=0)
        else:
            documents = await _documents(session, actor, dossier, selected.id, page)
        return FolderView(dossier.code, dossier.name, folders, selected, documents)


async def list_documents(
    hub: Hub, actor: Actor, code: str, *, folder: str | None = None, page: int = 1
) -> Page[DocumentEntry]:
    """A dossier's documents (of one folder, or all), each with its latest version."""
    async with hub.sessions() as session:
        dossier = await _readable_dossier(session, actor, code)
        folder_id = None
        if folder:
            folder_id = _folder_named(
                await _folders(session, actor, dossier), normalise_path(folder)
            ).id
        return await _documents(session, actor, dossier, folder_id, page)


async def upload_places(hub: Hub, actor: Actor, *, limit: int = CHOICES) -> UploadPlaces:
    """Where the actor may drop a file: the dossiers they see (a contact's linked dossiers; for
    staff, :func:`hub.rights.visible_dossiers` with their portfolio first, then the firm's most
    recent) and the top-level folders."""
    async with hub.sessions() as session:
        query = select(Dossier.code, Dossier.name)
        if actor.kind == "contact":
            query = query.join(ContactDossier, ContactDossier.dossier_id == Dossier.id).where(
                Dossier.firm_id == actor.firm_id, ContactDossier.contact_id == actor.id
            )
            order: list[Any] = [Dossier.code]
        elif actor.kind in FIRM_READERS:
            query = query.where(visible_dossiers(actor))
            order = [Dossier.created_at.desc(), Dossier.code]
            if actor.is_staff:
                mine = (Dossier.master_id == actor.id) | (Dossier.engagement_manager_id == actor.id)
                order.insert(0, case((mine, 0), else_=1))
        else:
            raise PermissionDenied(f"{actor.ref} may not upload", key="rights.staff_only")
        rows = await session.execute(query.order_by(*order).limit(limit))
        dossiers = [DossierChoice(code, name) for code, name in rows]
        folders = list(
            await session.scalars(
                select(Folder.path)
                .where(Folder.firm_id == actor.firm_id, Folder.parent_id.is_(None))
                .order_by(Folder.path)
            )
        )
    return UploadPlaces(dossiers, folders)


async def require_readable(hub: Hub, actor: Actor, code: str) -> None:
    """Refuse, before anything is stored, a panel upload to a dossier whose folder view the actor
    may not open (the same refusal as the view's)."""
    async with hub.sessions() as session:
        await _readable_dossier(session, actor, code)
