"""Reading the connect wizard: step 1's folder tree (with the folder the application's document type
suggests) and step 2's page of dossiers with their connection to the application.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from sqlalchemy import ColumnElement, and_, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from hub.connections.lookup import connect_app, folder_choice, value_column
from hub.connections.views import Board, ConnectApp, ConnectionRow, FolderChoice, Start
from hub.identity import Actor
from hub.paging import PER_PAGE, Page
from hub.portfolio import dossier_search
from hub.rights import require_staff
from hub.services import Hub
from storage.models import Connection, ConnectionFolder, Dossier, Folder

# Top-level folders suggested in step 1 for an application dedicated to a document type.
SUGGESTED = {"purchases": ("achats", "purchases"), "sales": ("ventes", "sales")}


async def start(hub: Hub, actor: Actor, app_id: int) -> Start:
    """Step 1: the application and the firm's tree, with the suggested folder ticked."""
    require_staff(actor)
    async with hub.sessions() as session:
        app = await connect_app(hub, session, actor, app_id)
        folders = await _folders(session, actor.firm_id)
    suggested = _suggested(app, folders)
    return Start(
        app=app,
        folders=[FolderChoice(f.id, f.name, f.path, f.depth, f.id == suggested) for f in folders],
        suggested_id=suggested,
        can_manage=actor.is_admin,
    )


async def board(
    hub: Hub,
    actor: Actor,
    app_id: int,
    folder_id: int,
    query: str | None = None,
    page: int = 1,
    connected_only: bool = False,
) -> Board:
    """Step 2's list: 50 dossiers matching ``query`` (3+ characters, checked by the caller)."""
    require_staff(actor)
    async with hub.sessions() as session:
        app = await connect_app(hub, session, actor, app_id)
        folder = await folder_choice(session, actor, folder_id)
        rows = await _page(session, actor.firm_id, app, folder, query, page, connected_only)
    return Board(
        app=app,
        folder=folder,
        query=query,
        connected_only=connected_only,
        page=rows,
        can_manage=actor.is_admin,
    )


async def _folders(session: AsyncSession, firm_id: int) -> list[FolderChoice]:
    rows = await session.execute(
        select(Folder.id, Folder.name, Folder.path).where(Folder.firm_id == firm_id)
    )
    folders = [FolderChoice(i, n, p, p.count("/")) for i, n, p in rows]
    # Each folder right after its parent: sort by the path's parts, case-insensitively.
    return sorted(folders, key=lambda f: [_fold(part) for part in f.path.split("/")])


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().casefold()


def _suggested(app: ConnectApp, folders: Sequence[FolderChoice]) -> int | None:
    names = SUGGESTED.get(app.document_type or "", ())
    return next((f.id for f in folders if f.depth == 0 and _fold(f.name) in names), None)


def _matches(query: str | None) -> ColumnElement[bool]:
    if not query:
        return true()
    return dossier_search(query)


async def _page(
    session: AsyncSession,
    firm_id: int,
    app: ConnectApp,
    folder: FolderChoice,
    query: str | None,
    number: int,
    connected_only: bool,
) -> Page[ConnectionRow]:
    join = and_(Connection.dossier_id == Dossier.id, Connection.firm_application_id == app.id)
    where = and_(Dossier.firm_id == firm_id, _matches(query))
    if connected_only:
        where = and_(where, Connection.id.is_not(None), Connection.active.is_(True))
    total = int(
        await session.scalar(
            select(func.count()).select_from(Dossier).outerjoin(Connection, join).where(where)
        )
        or 0
    )
    pages = max(1, -(-total // PER_PAGE))
    number = min(max(1, number), pages)
    rows = (
        await session.execute(
            select(
                Dossier.id,
                Dossier.code,
                Dossier.name,
                Dossier.status,
                Connection.id,
                Connection.active,
                Connection.access_authorized,
                value_column(app),
            )
            .outerjoin(Connection, join)
            .where(where)
            .order_by(Dossier.code)
            .offset((number - 1) * PER_PAGE)
            .limit(PER_PAGE)
        )
    ).all()
    connection_ids = [r[4] for r in rows if r[4] is not None]
    folders: dict[int, list[tuple[int, str]]] = {}
    if connection_ids:
        for connection_id, folder_id, path in await session.execute(
            select(ConnectionFolder.connection_id, Folder.id, Folder.path)
            .join(Folder, Folder.id == ConnectionFolder.folder_id)
            .where(
                ConnectionFolder.firm_id == firm_id,
                ConnectionFolder.connection_id.in_(connection_ids),
            )
            .order_by(Folder.path)
        ):
            folders.setdefault(connection_id, []).append((folder_id, path))
    items = [
        ConnectionRow(
            dossier_id=dossier_id,
            code=code,
            name=name,
            status=status,
            exists=connection_id is not None,
            active=bool(active),
            authorized=bool(authorized),
            value=value or "",
            folders=tuple(p for _, p in folders.get(connection_id, [])),
            has_folder=any(i == folder.id for i, _ in folders.get(connection_id, [])),
        )
        for dossier_id, code, name, status, connection_id, active, authorized, value in rows
    ]
    return Page(items=items, number=number, per_page=PER_PAGE, total=total)
