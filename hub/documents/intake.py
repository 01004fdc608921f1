"""Document intake: the one use-case every source calls (panel upload, REST API, Teams
attachment, ``relais upload``).

A received file becomes a new version of a document in a dossier's folder, stored by content
(:mod:`storage.blobs`), and — in the same transaction — one delivery per application the version
must reach, so that a version can never exist without its deliveries, nor a delivery without its
version. The worker (:mod:`connectors.worker`) does the sending.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hub.audit import record
from hub.documents.content_type import detect_content_type
from hub.documents.filenames import sanitise_filename
from hub.errors import (
    ConfigurationError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    storage_unavailable,
)
from hub.identity import Actor
from hub.portfolio.dossiers import code_is, exact_code_first
from hub.rights import visible_dossiers
from hub.services import Hub
from hub.settings import Settings
from storage.blobs import Blobs, BlobStoreMisconfigured, open_blob_store
from storage.models import (
    CatalogApp,
    Connection,
    ConnectionFolder,
    Delivery,
    Document,
    DocumentVersion,
    Dossier,
    FirmApplication,
    Folder,
)

# Whatever a face accepts, no document is larger than this. Faces check Content-Length against
# it before reading the body (413), so an oversize upload never fills memory or disk.
MAX_DOCUMENT_SIZE = 50 * 1024 * 1024
SOURCES = ("panel", "api", "bot", "cli")


@dataclass(frozen=True)
class VersionReceipt:
    document_id: int
    version_id: int
    number: int
    name: str
    content_type: str
    sha256: str
    size: int
    deliveries: int
    # The same bytes as the document's latest version: nothing new was stored or sent.
    duplicate: bool


def blob_store(settings: Settings) -> Blobs:
    """The store ``RELAIS_BLOB_URL`` names; the composition root builds it once (``hub.blobs``)."""
    try:
        return open_blob_store(
            settings.blob_location, settings.blob_connection_string.get_secret_value()
        )
    except BlobStoreMisconfigured as error:
        raise ConfigurationError(str(error)) from None


async def receive_document(
    hub: Hub,
    actor: Actor,
    dossier_code: str,
    folder_path: str,
    filename: str,
    data: bytes,
    source: str,
) -> VersionReceipt:
    """Store ``data`` as the next version of ``filename`` in the dossier's folder and create its
    deliveries; the same bytes as the latest version are recognised and change nothing."""
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}")
    name = sanitise_filename(filename)
    if not data:
        raise InvalidInput("empty file", field="file", key="documents.empty", name=name)
    if len(data) > MAX_DOCUMENT_SIZE:
        raise InvalidInput(
            f"{len(data)} bytes is over {MAX_DOCUMENT_SIZE}",
            field="file",
            key="documents.too_large",
            name=name,
            limit=MAX_DOCUMENT_SIZE,
        )
    dossier, folder = await _where(hub, actor, dossier_code, folder_path)
    content_type = detect_content_type(data)
    # Outside the transaction, and first: a file without a version is harmless (and reused by
    # the next upload of the same bytes); a version without its file would not be. A store that
    # cannot take it (a full or read-only folder, an unreachable container) stops the intake
    # here, before any row is written.
    try:
        sha256, size = await hub.blobs.store(data)
    except OSError as error:
        raise storage_unavailable(error) from error
    # Two uploads of the same new name at once race on the unique keys; the loser tries again
    # and becomes the next version (or the duplicate).
    for attempt in range(3):
        try:
            return await _store_version(
                hub, actor, dossier, folder, name, sha256, size, content_type, source
            )
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def _where(
    hub: Hub, actor: Actor, dossier_code: str, folder_path: str
) -> tuple[Dossier, Folder]:
    async with hub.sessions() as session:
        dossier = await session.scalar(
            select(Dossier)
            .where(Dossier.firm_id == actor.firm_id, code_is(dossier_code))
            .order_by(exact_code_first(dossier_code))
            .limit(1)
        )
        if dossier is None:
            raise NotFound(
                f"no dossier {dossier_code}", key="documents.no_dossier", code=dossier_code
            )
        # One rule for reading and adding: the dossiers the actor may see (a contact their own,
        # a collaborator their portfolio, administrators, tokens and the command line the firm).
        visible = await session.scalar(
            select(exists().where(Dossier.id == dossier.id, visible_dossiers(actor)))
        )
        if not visible:
            raise PermissionDenied(
                f"{actor.ref} may not add documents to {dossier.code}",
                key="rights.upload",
                dossier=dossier.code,
            )
        path = "/".join(part.strip() for part in folder_path.strip().strip("/").split("/"))
        folder = await session.scalar(
            select(Folder).where(Folder.firm_id == actor.firm_id, Folder.path == path)
        )
        if folder is None:
            raise InvalidInput(
                f"no folder {folder_path!r}", field="folder", key="documents.no_folder", path=path
            )
        return dossier, folder


async def _store_version(
    hub: Hub,
    actor: Actor,
    dossier: Dossier,
    folder: Folder,
    name: str,
    sha256: str,
    size: int,
    content_type: str,
    source: str,
) -> VersionReceipt:
    now = datetime.now(UTC)
    async with hub.sessions() as session, session.begin():
        document = await session.scalar(
            select(Document).where(
                Document.dossier_id == dossier.id,
                Document.folder_id == folder.id,
                Document.name == name,
            )
        )
        if document is None:
            document = Document(
                firm_id=actor.firm_id, dossier_id=dossier.id, folder_id=folder.id, name=name
            )
            session.add(document)
            await session.flush()
        else:
            latest = await session.scalar(
                select(DocumentVersion)
                .where(DocumentVersion.document_id == document.id)
                .order_by(DocumentVersion.number.desc())
                .limit(1)
            )
            if latest is not None and latest.sha256 == sha256:
                return VersionReceipt(
                    document.id, latest.id, latest.number, name, latest.content_type,
                    sha256, size, deliveries=0, duplicate=True,
                )  # fmt: skip
        number = (
            await session.scalar(
                select(func.max(DocumentVersion.number)).where(
                    DocumentVersion.document_id == document.id
                )
            )
            or 0
        ) + 1
        version = DocumentVersion(
            firm_id=actor.firm_id,
            document_id=document.id,
            number=number,
            sha256=sha256,
            size=size,
            content_type=content_type,
            uploaded_by=actor.ref,
            source=source,
            created_at=now,
        )
        session.add(version)
        await session.flush()
        routes = await _routes(session, actor.firm_id, dossier.id, folder.path, now)
        session.add_all(
            Delivery(
                firm_id=actor.firm_id,
                document_version_id=version.id,
                connection_id=connection_id,
                dossier_id=dossier.id,
                application_label=label,
                next_attempt_at=now,
                created_at=now,
            )
            for connection_id, label in routes
        )
        record(
            session,
            actor.firm_id,
            actor.ref,
            "document.received",
            "document_version",
            version.id,
            dossier=dossier.code,
            folder=folder.path,
            name=name,
            number=number,
            sha256=sha256,
            size=size,
            content_type=content_type,
            source=source,
            deliveries=len(routes),
        )
    if routes:
        hub.deliveries_queued.ring()
    return VersionReceipt(
        document.id, version.id, number, name, content_type, sha256, size,
        deliveries=len(routes), duplicate=False,
    )  # fmt: skip


async def _routes(
    session: AsyncSession, firm_id: int, dossier_id: int, folder_path: str, now: datetime
) -> list[tuple[int, str]]:
    """The connections a version in ``folder_path`` goes to, with their application's label
    (kept on the delivery: its history outlives the application): active, access authorised,
    with a connected folder that is the folder or one of its ancestors, connected before
    ``now``."""
    rows = await session.execute(
        select(Connection.id, CatalogApp.label, Folder.path)
        .join(ConnectionFolder, ConnectionFolder.connection_id == Connection.id)
        .join(Folder, Folder.id == ConnectionFolder.folder_id)
        .join(FirmApplication, FirmApplication.id == Connection.firm_application_id)
        .join(CatalogApp, CatalogApp.id == FirmApplication.catalog_app_id)
        .where(
            Connection.firm_id == firm_id,
            Connection.dossier_id == dossier_id,
            Connection.active.is_(True),
            Connection.access_authorized.is_(True),
            ConnectionFolder.connected_at <= now,
        )
    )
    # Compared here rather than with LIKE: "_" and "%" are ordinary characters in folder names.
    return sorted(
        {
            (connection_id, label)
            for connection_id, label, path in rows
            if folder_path == path or folder_path.startswith(path + "/")
        }
    )
