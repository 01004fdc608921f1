"""Step 1 of the connect wizard: the folder, optionally added to every dossier already connected."""

from __future__ import annotations

from sqlalchemy import insert, select

from hub.connections.lookup import connect_app, folder_choice
from hub.connections.views import FolderApplied
from hub.connections.writing import record_change
from hub.errors import InvalidInput
from hub.identity import Actor
from hub.imports.csvfile import chunks
from hub.rights import require_admin
from hub.services import Hub
from storage.models import Connection, ConnectionFolder, utcnow


async def choose_folder(
    hub: Hub, actor: Actor, app_id: int, folder_id: int | None, apply_to_connected: bool = False
) -> FolderApplied:
    """Step 1's Next: check the folder; with ``apply_to_connected``, add it to every dossier
    already connected to the application (one transaction, one audit event)."""
    require_admin(actor)
    if folder_id is None:
        raise InvalidInput("no folder chosen", field="folder", key="connections.error.no_folder")
    async with hub.sessions() as session, session.begin():
        app = await connect_app(hub, session, actor, app_id)
        folder = await folder_choice(session, actor, folder_id)
        if not apply_to_connected:
            return FolderApplied(folder.id, folder.path, 0)
        has_it = select(ConnectionFolder.id).where(
            ConnectionFolder.connection_id == Connection.id,
            ConnectionFolder.folder_id == folder.id,
        )
        missing = select(Connection.id).where(
            Connection.firm_id == actor.firm_id,
            Connection.firm_application_id == app.id,
            Connection.active.is_(True),
            ~has_it.exists(),
        )
        now = utcnow()
        ids = list(await session.scalars(missing))
        for chunk in chunks(ids):
            await session.execute(
                insert(ConnectionFolder),
                [
                    {
                        "firm_id": actor.firm_id,
                        "connection_id": i,
                        "folder_id": folder.id,
                        "connected_at": now,
                    }
                    for i in chunk
                ],
            )
        record_change(
            session,
            actor,
            app,
            "connections.folder_applied",
            folder=folder.path,
            count=len(ids),
        )
        return FolderApplied(folder.id, folder.path, len(ids))
