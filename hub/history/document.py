"""One document's history: each version, newest first, and under each every delivery with its
attempts (the panel's History drawer)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from hub.errors import NotFound
from hub.history.deliveries import DeliveryEntry, deliveries_of
from hub.history.people import person_names
from hub.identity import Actor
from hub.rights import may_retry, visible_dossiers
from hub.services import Hub
from storage.models import Document, DocumentVersion, Dossier, Folder


@dataclass(frozen=True)
class VersionEntry:
    id: int
    number: int
    uploaded_by: str  # a readable name ("" when unknown)
    uploader: str  # the stored reference: staff:3, contact:5, token:2, cli
    source: str  # panel | api | bot | cli
    uploaded_at: datetime
    size: int
    content_type: str
    deliveries: list[DeliveryEntry]


@dataclass(frozen=True)
class DocumentHistory:
    id: int
    name: str
    dossier_code: str
    dossier_name: str
    folder: str
    versions: list[VersionEntry]  # newest first


async def document_history(hub: Hub, actor: Actor, document_id: int) -> DocumentHistory:
    """Each version of the document, newest first, and under each every delivery with its
    attempts. A handful of indexed queries, whatever the number of versions or deliveries."""
    async with hub.sessions() as session:
        found = (
            await session.execute(
                select(Document, Dossier, Folder.path)
                .join(Dossier, Dossier.id == Document.dossier_id)
                .join(Folder, Folder.id == Document.folder_id)
                .where(
                    Document.id == document_id,
                    Document.firm_id == actor.firm_id,
                    visible_dossiers(actor),
                )
            )
        ).first()
        if found is None:
            raise NotFound(f"no document {document_id} for {actor.ref}", key="history.no_document")
        document, dossier, folder = found
        versions = list(
            await session.scalars(
                select(DocumentVersion)
                .where(DocumentVersion.document_id == document.id)
                .order_by(DocumentVersion.number.desc())
            )
        )
        by_version = await deliveries_of(
            session, [v.id for v in versions], may_retry(actor, dossier)
        )
        names = await person_names(session, actor.firm_id, {v.uploaded_by for v in versions})
    return DocumentHistory(
        id=document.id,
        name=document.name,
        dossier_code=dossier.code,
        dossier_name=dossier.name,
        folder=folder,
        versions=[
            VersionEntry(
                id=v.id,
                number=v.number,
                uploaded_by=names.get(v.uploaded_by, ""),
                uploader=v.uploaded_by,
                source=v.source,
                uploaded_at=v.created_at,
                size=v.size,
                content_type=v.content_type,
                deliveries=by_version.get(v.id, []),
            )
            for v in versions
        ],
    )
