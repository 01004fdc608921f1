"""Writing connections in bulk (a 10,000-line import is a handful of statements): what each dossier
has now, the values already taken, the changes applied, the audit event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.audit import record
from hub.connections.addresses import generate_addresses
from hub.connections.lookup import value_column
from hub.connections.views import ConnectApp, FolderChoice, Outcome
from hub.identity import Actor
from hub.imports.csvfile import chunks
from storage.models import Connection, ConnectionFolder, utcnow


@dataclass
class Current:
    """A dossier's connection to the application as it is, before the change."""

    id: int
    active: bool
    authorized: bool
    value: str
    has_folder: bool


@dataclass
class Change:
    """What a row or a line asks for one dossier; ``value`` is filled once generated."""

    dossier_id: int
    code: str
    name: str
    authorized: bool
    value: str | None  # None: generate one
    current: Current | None
    add_folder: bool
    line: int = 0
    generated: bool = field(default=False)


async def current_connections(
    session: AsyncSession, firm_id: int, app: ConnectApp, folder_id: int, dossier_ids: Sequence[int]
) -> dict[int, Current]:
    """The app's existing connections of these dossiers (chunked for 10,000-line files)."""
    current: dict[int, Current] = {}
    for chunk in chunks(list(dossier_ids)):
        rows = await session.execute(
            select(
                Connection.dossier_id,
                Connection.id,
                Connection.active,
                Connection.access_authorized,
                value_column(app),
            ).where(
                Connection.firm_id == firm_id,
                Connection.firm_application_id == app.id,
                Connection.dossier_id.in_(chunk),
            )
        )
        for dossier_id, connection_id, active, authorized, value in rows:
            current[dossier_id] = Current(connection_id, active, authorized, value or "", False)
    by_connection = {c.id: c for c in current.values()}
    ids = list(by_connection)
    for chunk in chunks(ids):
        for connection_id in await session.scalars(
            select(ConnectionFolder.connection_id).where(
                ConnectionFolder.folder_id == folder_id,
                ConnectionFolder.connection_id.in_(chunk),
            )
        ):
            by_connection[connection_id].has_folder = True
    return current


async def taken_values(session: AsyncSession, firm_id: int, app: ConnectApp) -> dict[str, int]:
    """Codes (or emails) already given to a dossier on this application → that dossier's id.

    Two dossiers with one code at the application would send one client's documents into
    another's account: refused. Disconnected rows count too, so reconnecting stays safe.
    """
    column = value_column(app)
    rows = await session.execute(
        select(column, Connection.dossier_id).where(
            Connection.firm_id == firm_id,
            Connection.firm_application_id == app.id,
            column != "",
        )
    )
    return {str(v).lower(): d for v, d in rows}


async def apply_changes(
    session: AsyncSession,
    actor: Actor,
    app: ConnectApp,
    folder: FolderChoice,
    changes: Sequence[Change],
    withdrawn: Sequence[Change] = (),
) -> list[Outcome]:
    """Write the changes with bulk statements: new connections, updated ones, their folder."""
    now = utcnow()
    column = "dossier_code_at_app" if app.method == "api" else "collection_email"
    needing = [c for c in changes if c.value is None]
    if needing:
        addresses = await generate_addresses(session, app, [c.code for c in needing])
        for change, address in zip(needing, addresses, strict=True):
            change.value = address
            change.generated = True

    new = [c for c in changes if c.current is None]
    old = [c for c in changes if c.current is not None]
    connection_of: dict[int, int] = {}
    for chunk in chunks(new):
        result = await session.execute(
            insert(Connection).returning(Connection.id, Connection.dossier_id),
            [
                {
                    "firm_id": actor.firm_id,
                    "firm_application_id": app.id,
                    "dossier_id": c.dossier_id,
                    column: c.value,
                    "access_authorized": True,
                    "active": True,
                    "connected_at": now,
                }
                for c in chunk
            ],
        )
        connection_of.update({d: i for i, d in result.all()})
    updates: list[dict[str, Any]] = []
    for c in old:
        assert c.current is not None
        values: dict[str, Any] = {
            "id": c.current.id,
            column: c.value,
            "access_authorized": True,
            "active": True,
        }
        if not c.current.active:
            values["connected_at"] = now
        updates.append(values)
        connection_of[c.dossier_id] = c.current.id
    for chunk in chunks(updates):
        await session.execute(update(Connection), list(chunk))
    if withdrawn:
        await session.execute(
            update(Connection),
            [{"id": c.current.id, "access_authorized": False} for c in withdrawn if c.current],
        )
    folder_rows = [
        {
            "firm_id": actor.firm_id,
            "connection_id": connection_of[c.dossier_id],
            "folder_id": folder.id,
            "connected_at": now,
        }
        for c in changes
        if c.current is None or not c.current.has_folder
    ]
    for chunk in chunks(folder_rows):
        await session.execute(insert(ConnectionFolder), list(chunk))

    outcomes = [
        Outcome(
            code=c.code,
            name=c.name,
            action="connected" if c.current is None or not c.current.active else "updated",
            value=c.value or "",
            generated=c.generated,
            folder_added=c.current is None or not c.current.has_folder,
        )
        for c in changes
    ]
    outcomes += [
        Outcome(c.code, c.name, "withdrawn", c.current.value if c.current else "")
        for c in withdrawn
    ]
    return sorted(outcomes, key=lambda o: o.code)


def record_change(
    session: AsyncSession, actor: Actor, app: ConnectApp, action: str, **details: Any
) -> None:
    """The audit event of a change to ``app``'s connections."""
    record(
        session,
        actor.firm_id,
        actor.ref,
        action,
        "firm_application",
        app.id,
        app=app.entry.slug,
        label=app.entry.label,
        **details,
    )
