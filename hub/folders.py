"""The firm's standard folder tree (seed 000 §3.1): one tree shared by every dossier.

Administrators add, rename and delete folders; every staff member may read the tree. A folder's
``path`` is its full name with ``/`` separators (``Achats/2025``), so renaming a folder rewrites
the paths of its sub-folders in the same transaction. A folder is deleted with its sub-folders,
and only when no connection uses any of them and no document is filed in any of them: the
refusal says what uses it.

Its own small capability, one module: connections (:mod:`hub.connections`) and documents both
use the tree, so it belongs to neither.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.audit import record
from hub.errors import Conflict, InvalidInput, NotFound
from hub.identity import Actor
from hub.rights import require_admin, require_staff
from hub.services import Hub
from storage.models import (
    CatalogApp,
    Connection,
    ConnectionFolder,
    Document,
    FirmApplication,
    Folder,
)

MAX_NAME = 80
MAX_PATH = 1000
SEPARATOR = "/"


@dataclass
class FolderNode:
    id: int
    name: str
    path: str
    parent_id: int | None
    depth: int
    connections: int = 0  # connections using this folder itself
    documents: int = 0  # documents filed in this folder itself
    children: list[FolderNode] = field(default_factory=list)

    @property
    def parent_path(self) -> str:
        return self.path.rpartition(SEPARATOR)[0]


@dataclass(frozen=True)
class FolderTree:
    roots: list[FolderNode]
    can_edit: bool

    def flat(self) -> list[FolderNode]:
        """Depth-first, each folder before its sub-folders, siblings by name."""
        out: list[FolderNode] = []

        def walk(nodes: list[FolderNode]) -> None:
            for node in nodes:
                out.append(node)
                walk(node.children)

        walk(self.roots)
        return out

    def find(self, folder_id: int | None) -> FolderNode | None:
        return next((n for n in self.flat() if n.id == folder_id), None)


@dataclass(frozen=True)
class Usage:
    """What stops a folder (and its sub-folders) from being deleted."""

    path: str
    subfolders: int
    applications: list[tuple[str, int]]  # (application label, connections using the subtree)
    documents: int

    @property
    def blocked(self) -> bool:
        return bool(self.applications) or self.documents > 0


@dataclass(frozen=True)
class Renamed:
    old_path: str
    new_path: str
    subfolders: int


# --------------------------------------------------------------------------- reading


async def folder_tree(hub: Hub, actor: Actor) -> FolderTree:
    """The firm's tree with, per folder, how many connections use it and documents it holds."""
    require_staff(actor)
    async with hub.sessions() as session:
        return FolderTree(await _tree(session, actor.firm_id), can_edit=actor.is_admin)


async def _tree(session: AsyncSession, firm_id: int) -> list[FolderNode]:
    rows = await session.execute(
        select(Folder.id, Folder.name, Folder.path, Folder.parent_id).where(
            Folder.firm_id == firm_id
        )
    )
    nodes = {i: FolderNode(i, n, p, parent, p.count(SEPARATOR)) for i, n, p, parent in rows.all()}
    connections = await session.execute(
        select(ConnectionFolder.folder_id, func.count())
        .where(ConnectionFolder.firm_id == firm_id)
        .group_by(ConnectionFolder.folder_id)
    )
    for folder_id, count in connections:
        if folder_id in nodes:
            nodes[folder_id].connections = count
    documents = await session.execute(
        select(Document.folder_id, func.count())
        .where(Document.firm_id == firm_id)
        .group_by(Document.folder_id)
    )
    for folder_id, count in documents:
        if folder_id in nodes:
            nodes[folder_id].documents = count
    roots: list[FolderNode] = []
    for node in sorted(nodes.values(), key=lambda n: _sort_key(n.name)):
        parent = nodes.get(node.parent_id) if node.parent_id is not None else None
        (parent.children if parent is not None else roots).append(node)
    return roots


def _sort_key(name: str) -> tuple[str, str]:
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().casefold()
    return folded, name


async def deletion_check(hub: Hub, actor: Actor, folder_id: int) -> Usage:
    """What deleting this folder would remove, and what (if anything) prevents it."""
    require_admin(actor)
    async with hub.sessions() as session:
        folder = await _folder(session, actor, folder_id)
        return await _usage(session, actor.firm_id, folder)


async def _usage(session: AsyncSession, firm_id: int, folder: Folder) -> Usage:
    ids = await _subtree_ids(session, firm_id, folder)
    apps = await session.execute(
        select(CatalogApp.label, func.count(func.distinct(Connection.id)))
        .select_from(ConnectionFolder)
        .join(Connection, Connection.id == ConnectionFolder.connection_id)
        .join(FirmApplication, FirmApplication.id == Connection.firm_application_id)
        .join(CatalogApp, CatalogApp.id == FirmApplication.catalog_app_id)
        .where(ConnectionFolder.firm_id == firm_id, ConnectionFolder.folder_id.in_(ids))
        .group_by(CatalogApp.label)
        .order_by(CatalogApp.label)
    )
    documents = await session.scalar(
        select(func.count())
        .select_from(Document)
        .where(Document.firm_id == firm_id, Document.folder_id.in_(ids))
    )
    return Usage(
        path=folder.path,
        subfolders=len(ids) - 1,
        applications=[(label, int(count)) for label, count in apps],
        documents=int(documents or 0),
    )


async def _subtree_ids(session: AsyncSession, firm_id: int, folder: Folder) -> list[int]:
    rows = await session.execute(select(Folder.id, Folder.path).where(Folder.firm_id == firm_id))
    prefix = folder.path + SEPARATOR
    # Compared in Python, not with LIKE: "_" and "%" are ordinary characters in folder names.
    return [i for i, path in rows if i == folder.id or path.startswith(prefix)]


async def _folder(session: AsyncSession, actor: Actor, folder_id: int) -> Folder:
    folder = await session.scalar(
        select(Folder).where(Folder.id == folder_id, Folder.firm_id == actor.firm_id)
    )
    if folder is None:
        raise NotFound(f"no folder {folder_id} in firm {actor.firm_id}")
    return folder


# --------------------------------------------------------------------------- validation


def clean_name(raw: str) -> str:
    """The trimmed name, or :class:`InvalidInput` on the ``name`` field saying what is wrong."""
    name = unicodedata.normalize("NFC", " ".join((raw or "").split()))
    if not name:
        raise InvalidInput("empty folder name", field="name", key="folders.error.empty")
    if SEPARATOR in name or "\\" in name:
        raise InvalidInput("slash in folder name", field="name", key="folders.error.slash")
    if name in (".", ".."):
        raise InvalidInput("dot folder name", field="name", key="folders.error.dots")
    if any(unicodedata.category(c).startswith("C") for c in name):
        raise InvalidInput("control character", field="name", key="folders.error.control")
    if len(name) > MAX_NAME:
        raise InvalidInput(
            "folder name too long", field="name", key="folders.error.too_long", limit=MAX_NAME
        )
    return name


async def _check_sibling(
    session: AsyncSession, firm_id: int, parent_id: int | None, name: str, exclude: int | None
) -> None:
    query = select(Folder.name).where(Folder.firm_id == firm_id)
    query = query.where(
        Folder.parent_id.is_(None) if parent_id is None else Folder.parent_id == parent_id
    )
    if exclude is not None:
        query = query.where(Folder.id != exclude)
    taken = {n.casefold() for n in await session.scalars(query)}
    if name.casefold() in taken:
        raise InvalidInput(
            "a sibling has that name", field="name", key="folders.error.taken", name=name
        )


# --------------------------------------------------------------------------- changes


async def add_folder(hub: Hub, actor: Actor, name: str, parent_id: int | None = None) -> FolderNode:
    """Add a folder at the top of the tree, or a sub-folder of ``parent_id``."""
    require_admin(actor)
    name = clean_name(name)
    async with hub.sessions() as session, session.begin():
        parent = await _folder(session, actor, parent_id) if parent_id is not None else None
        await _check_sibling(session, actor.firm_id, parent_id, name, None)
        path = f"{parent.path}{SEPARATOR}{name}" if parent is not None else name
        if len(path) > MAX_PATH:
            raise InvalidInput("path too long", field="name", key="folders.error.path_too_long")
        folder = Folder(firm_id=actor.firm_id, parent_id=parent_id, name=name, path=path)
        session.add(folder)
        await session.flush()
        record(session, actor.firm_id, actor.ref, "folder.added", "folder", folder.id, path=path)
        return FolderNode(folder.id, name, path, parent_id, path.count(SEPARATOR))


async def rename_folder(hub: Hub, actor: Actor, folder_id: int, name: str) -> Renamed:
    """Rename a folder; the paths of its sub-folders follow. Connections keep their folders."""
    require_admin(actor)
    name = clean_name(name)
    async with hub.sessions() as session, session.begin():
        folder = await _folder(session, actor, folder_id)
        old = folder.path
        if name == folder.name:
            return Renamed(old, old, 0)
        await _check_sibling(session, actor.firm_id, folder.parent_id, name, folder.id)
        parent_path = old.rpartition(SEPARATOR)[0]
        new = f"{parent_path}{SEPARATOR}{name}" if parent_path else name
        below = list(await session.scalars(select(Folder).where(Folder.firm_id == actor.firm_id)))
        prefix = old + SEPARATOR
        descendants = [f for f in below if f.path.startswith(prefix)]
        if (
            any(len(new + f.path[len(old) :]) > MAX_PATH for f in descendants)
            or len(new) > MAX_PATH
        ):
            raise InvalidInput("path too long", field="name", key="folders.error.path_too_long")
        folder.name = name
        folder.path = new
        for sub in descendants:
            sub.path = new + sub.path[len(old) :]
        record(
            session,
            actor.firm_id,
            actor.ref,
            "folder.renamed",
            "folder",
            folder.id,
            old_path=old,
            path=new,
            subfolders=len(descendants),
        )
        return Renamed(old, new, len(descendants))


async def delete_folder(hub: Hub, actor: Actor, folder_id: int) -> Usage:
    """Delete a folder and its sub-folders, unless a connection or a document uses one of them."""
    require_admin(actor)
    async with hub.sessions() as session, session.begin():
        folder = await _folder(session, actor, folder_id)
        usage = await _usage(session, actor.firm_id, folder)
        if usage.blocked:
            connections = sum(count for _, count in usage.applications)
            raise Conflict(
                f"folder {folder.path} is in use",
                key="folders.error.in_use",
                path=folder.path,
                connections=connections,
                applications=", ".join(label for label, _ in usage.applications) or "—",
                documents=usage.documents,
            )
        ids = await _subtree_ids(session, actor.firm_id, folder)
        # Deepest first, so no row ever points at a parent already gone (SQLite without FK
        # enforcement and PostgreSQL behave the same).
        depth: dict[int, list[int]] = defaultdict(list)
        paths = dict(
            (await session.execute(select(Folder.id, Folder.path).where(Folder.id.in_(ids)))).all()
        )
        for i in ids:
            depth[paths[i].count(SEPARATOR)].append(i)
        for level in sorted(depth, reverse=True):
            await session.execute(
                delete(Folder).where(Folder.firm_id == actor.firm_id, Folder.id.in_(depth[level]))
            )
        record(
            session,
            actor.firm_id,
            actor.ref,
            "folder.deleted",
            "folder",
            folder_id,
            path=usage.path,
            subfolders=usage.subfolders,
        )
        return usage
