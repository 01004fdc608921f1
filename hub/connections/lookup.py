"""Lookups the connect wizard's use-cases share: the firm application being connected (only one
whose catalog entry connects by ``api`` or ``collection_email``), a folder of the firm's tree,
the column that holds a connection's value. Firm-scoped; another firm's id is "not found".
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.applications import CatalogEntry
from hub.connections.addresses import collect_domain
from hub.connections.views import METHODS, ConnectApp, FolderChoice
from hub.errors import NotFound
from hub.identity import Actor
from hub.services import Hub
from storage.models import Connection, FirmApplication, Folder


async def connect_app(hub: Hub, session: AsyncSession, actor: Actor, app_id: int) -> ConnectApp:
    firm_app = await session.scalar(
        select(FirmApplication).where(
            FirmApplication.id == app_id, FirmApplication.firm_id == actor.firm_id
        )
    )
    if firm_app is None:
        raise NotFound(f"no application {app_id} in firm {actor.firm_id}")
    entry = CatalogEntry.of(firm_app.catalog_app)
    if entry.connection not in METHODS:
        raise NotFound(
            f"{entry.slug} has no connection method",
            key="connections.error.not_connectable",
            label=entry.label,
        )
    connected = await session.scalar(
        select(func.count())
        .select_from(Connection)
        .where(
            Connection.firm_id == actor.firm_id,
            Connection.firm_application_id == firm_app.id,
            Connection.active.is_(True),
        )
    )
    return ConnectApp(
        id=firm_app.id,
        entry=entry,
        collect_domain=collect_domain(hub, firm_app),
        connected=int(connected or 0),
    )


async def folder_choice(session: AsyncSession, actor: Actor, folder_id: int) -> FolderChoice:
    row = (
        await session.execute(
            select(Folder.id, Folder.name, Folder.path).where(
                Folder.id == folder_id, Folder.firm_id == actor.firm_id
            )
        )
    ).first()
    if row is None:
        raise NotFound(f"no folder {folder_id} in firm {actor.firm_id}")
    return FolderChoice(row[0], row[1], row[2], row[2].count("/"))


def value_column(app: ConnectApp) -> Any:
    return Connection.dossier_code_at_app if app.method == "api" else Connection.collection_email
