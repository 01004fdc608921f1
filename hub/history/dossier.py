"""A dossier's status: its applications (with their connected folders and how many deliveries
wait or failed) and its last deliveries (the bot's ``status``)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from hub.errors import NotFound
from hub.history.deliveries import application_label, retryable
from hub.identity import Actor
from hub.portfolio.dossiers import code_is, exact_code_first
from hub.rights import may_retry, visible_dossiers
from hub.services import Hub
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

LAST_DELIVERIES = 10


@dataclass(frozen=True)
class ConnectedApplication:
    application: str
    method: str  # api | collection_email | none
    active: bool
    code_at_app: str
    collection_email: str
    folders: list[str]
    pending: int
    failed: int


@dataclass(frozen=True)
class RecentDelivery:
    id: int
    document_id: int
    document: str
    version: int
    application: str
    status: str
    failure_reason: str | None
    queued_at: datetime
    sent_at: datetime | None
    may_retry: bool
    application_deleted: bool = False


@dataclass(frozen=True)
class DossierStatus:
    code: str
    name: str
    status: str  # active | inactive | archived
    applications: list[ConnectedApplication]
    last_deliveries: list[RecentDelivery]  # newest first
    may_retry: bool


async def dossier_status(
    hub: Hub, actor: Actor, code: str, *, last: int = LAST_DELIVERIES
) -> DossierStatus:
    """The dossier's applications (with their connected folders and how many deliveries wait or
    failed) and its last deliveries."""
    async with hub.sessions() as session:
        dossier = await session.scalar(
            select(Dossier)
            .where(code_is(code), visible_dossiers(actor))
            .order_by(exact_code_first(code))
            .limit(1)
        )
        if dossier is None:
            raise NotFound(f"no dossier {code!r} for {actor.ref}", key="portfolio.no_dossier")
        connections = (
            await session.execute(
                select(Connection, CatalogApp.label, CatalogApp.connection)
                .join(FirmApplication, FirmApplication.id == Connection.firm_application_id)
                .join(CatalogApp, CatalogApp.id == FirmApplication.catalog_app_id)
                .where(Connection.firm_id == actor.firm_id, Connection.dossier_id == dossier.id)
                .order_by(CatalogApp.label)
            )
        ).all()
        ids = [c.id for c, _, _ in connections]
        folders: dict[int, list[str]] = defaultdict(list)
        counts: dict[tuple[int, str], int] = {}
        if ids:
            for connection_id, path in await session.execute(
                select(ConnectionFolder.connection_id, Folder.path)
                .join(Folder, Folder.id == ConnectionFolder.folder_id)
                .where(ConnectionFolder.connection_id.in_(ids))
                .order_by(Folder.path)
            ):
                folders[connection_id].append(path)
            for counted, status, n in await session.execute(
                select(Delivery.connection_id, Delivery.status, func.count())
                .where(
                    Delivery.connection_id.in_(ids),
                    Delivery.status.in_(("pending", "sending", "failed")),
                )
                .group_by(Delivery.connection_id, Delivery.status)
            ):
                if counted is not None:
                    counts[(counted, status)] = int(n)
        # By the dossier kept on the delivery: the deliveries of deleted applications too.
        recent = (
            await session.execute(
                select(
                    Delivery,
                    Document.id,
                    Document.name,
                    DocumentVersion.number,
                    application_label(),
                )
                .join(DocumentVersion, DocumentVersion.id == Delivery.document_version_id)
                .join(Document, Document.id == DocumentVersion.document_id)
                .outerjoin(Connection, Connection.id == Delivery.connection_id)
                .outerjoin(FirmApplication, FirmApplication.id == Connection.firm_application_id)
                .outerjoin(CatalogApp, CatalogApp.id == FirmApplication.catalog_app_id)
                .where(Delivery.firm_id == actor.firm_id, Delivery.dossier_id == dossier.id)
                .order_by(Delivery.created_at.desc(), Delivery.id.desc())
                .limit(last)
            )
        ).all()
    allowed = may_retry(actor, dossier)
    return DossierStatus(
        code=dossier.code,
        name=dossier.name,
        status=dossier.status,
        may_retry=allowed,
        applications=[
            ConnectedApplication(
                application=label,
                method=method,
                active=c.active,
                code_at_app=c.dossier_code_at_app,
                collection_email=c.collection_email,
                folders=folders.get(c.id, []),
                pending=counts.get((c.id, "pending"), 0) + counts.get((c.id, "sending"), 0),
                failed=counts.get((c.id, "failed"), 0),
            )
            for c, label, method in connections
        ],
        last_deliveries=[
            RecentDelivery(
                id=d.id,
                document_id=document_id,
                document=name,
                version=number,
                application=label,
                status=d.status,
                failure_reason=d.failure_reason,
                queued_at=d.created_at,
                sent_at=d.sent_at,
                may_retry=allowed and retryable(d),
                application_deleted=d.connection_id is None,
            )
            for d, document_id, name, number, label in recent
        ],
    )


async def example_dossier(hub: Hub, actor: Actor) -> str | None:
    """One of the person's own dossiers worth asking ``status`` about (an active one, connected
    to an application when there is one), for the command's example; None when they see none."""
    connected = (
        select(Connection.id)
        .where(Connection.firm_id == actor.firm_id, Connection.dossier_id == Dossier.id)
        .exists()
    )
    async with hub.sessions() as session:
        code = await session.scalar(
            select(Dossier.code)
            .where(visible_dossiers(actor), Dossier.status == "active")
            .order_by(connected.desc(), Dossier.code)
            .limit(1)
        )
    return code
