"""Step 2 of the connect wizard, one dossier at a time: save the rows that changed, disconnect one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select

from hub.connections.checks import check_value, normal
from hub.connections.lookup import connect_app, folder_choice
from hub.connections.views import ConnectApp, Entry, Outcome, Saved
from hub.connections.writing import (
    Change,
    Current,
    apply_changes,
    current_connections,
    record_change,
    taken_values,
)
from hub.errors import InvalidInput, NotFound
from hub.identity import Actor
from hub.rights import require_admin
from hub.services import Hub
from storage.models import Connection, Dossier


async def save(
    hub: Hub, actor: Actor, app_id: int, folder_id: int, entries: Sequence[Entry]
) -> Saved:
    """Save the rows of step 2 that changed, all or nothing.

    A ticked row is connected (or updated) with its code or email, and gets the step-1 folder; a
    connected row unticked loses its access (``access_authorized`` False). A wrong row raises
    :class:`InvalidInput` whose ``problems`` maps ``row.<dossier id>`` to a message key.
    """
    require_admin(actor)
    async with hub.sessions() as session, session.begin():
        app = await connect_app(hub, session, actor, app_id)
        folder = await folder_choice(session, actor, folder_id)
        ids = sorted({e.dossier_id for e in entries})
        dossiers = {
            i: (c, n)
            for i, c, n in await session.execute(
                select(Dossier.id, Dossier.code, Dossier.name).where(
                    Dossier.firm_id == actor.firm_id, Dossier.id.in_(ids)
                )
            )
        }
        if len(dossiers) != len(ids):
            raise NotFound("a dossier of another firm, or none", key="connections.error.dossier")
        current = await current_connections(session, actor.firm_id, app, folder.id, ids)
        taken = await taken_values(session, actor.firm_id, app)
        rows = _Rows(app, dossiers, current, taken)
        for entry in entries:
            rows.add(entry)
        rows.raise_if_any()
        outcomes = await apply_changes(session, actor, app, folder, rows.changes, rows.withdrawn)
        if outcomes:
            record_change(
                session,
                actor,
                app,
                "connections.saved",
                folder=folder.path,
                connected=sum(1 for o in outcomes if o.action == "connected"),
                updated=sum(1 for o in outcomes if o.action == "updated"),
                withdrawn=sum(1 for o in outcomes if o.action == "withdrawn"),
                generated=sum(1 for o in outcomes if o.generated),
            )
        return Saved(folder.path, outcomes)


@dataclass
class _Rows:
    """Step 2's submitted rows sorted into changes, withdrawals and problems (``row.<id>`` → key)."""

    app: ConnectApp
    dossiers: dict[int, tuple[str, str]]  # id → (code, name)
    current: dict[int, Current]
    taken: dict[str, int]  # value (lower-cased) → the dossier that has it
    problems: dict[str, str] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)
    withdrawn: list[Change] = field(default_factory=list)
    seen: dict[str, int] = field(default_factory=dict)  # values typed on earlier rows

    def add(self, entry: Entry) -> None:
        cur = self.current.get(entry.dossier_id)
        code, name = self.dossiers[entry.dossier_id]
        generate = entry.generate and self.app.generates
        value = normal(self.app, entry.value)
        if not entry.authorized:
            self._untick(entry, cur, code, name, bool(value) or generate)
            return
        problem = self._problem(entry, cur, value, generate)
        if problem:
            self.problems[f"row.{entry.dossier_id}"] = problem
        elif _changed(entry, cur, value, generate):
            change = Change(
                entry.dossier_id,
                code,
                name,
                True,
                None if generate else value,
                cur,
                add_folder=True,
            )
            self.changes.append(change)

    def _untick(self, entry: Entry, cur: Current | None, code: str, name: str, typed: bool) -> None:
        live = cur is not None and cur.active
        if live and cur is not None and cur.authorized:
            self.withdrawn.append(Change(entry.dossier_id, code, name, False, None, cur, False))
        elif not live and typed:
            self.problems[f"row.{entry.dossier_id}"] = "connections.error.tick"

    def _problem(self, entry: Entry, cur: Current | None, value: str, generate: bool) -> str | None:
        """The message key of what is wrong with a ticked row, else None."""
        if generate:
            typed_new = value and (cur is None or value != cur.value)
            return "connections.error.both" if typed_new else None
        reason = check_value(self.app, value)
        if reason:
            return reason
        low = value.lower()
        other = self.taken.get(low)
        if (other is not None and other != entry.dossier_id) or (
            self.seen.get(low, entry.dossier_id) != entry.dossier_id
        ):
            return f"connections.error.{self.app.method}_taken"
        self.seen[low] = entry.dossier_id
        return None

    def raise_if_any(self) -> None:
        if self.problems:
            first = next(iter(self.problems))
            raise InvalidInput(
                f"{len(self.problems)} row(s) refused",
                field=first,
                key=self.problems[first],
                problems=self.problems,
            )


def _changed(entry: Entry, cur: Current | None, value: str, generate: bool) -> bool:
    live = cur is not None and cur.active
    add_folder = entry.add_folder and cur is not None and not cur.has_folder
    return (
        not live
        or generate
        or (cur is not None and (not cur.authorized or value != cur.value))
        or add_folder
    )


async def disconnect(hub: Hub, actor: Actor, app_id: int, dossier_id: int) -> Outcome:
    """Switch one dossier's connection off (``active`` False); nothing more is sent to the app."""
    require_admin(actor)
    async with hub.sessions() as session, session.begin():
        app = await connect_app(hub, session, actor, app_id)
        row = (
            await session.execute(
                select(Connection, Dossier.code, Dossier.name)
                .join(Dossier, Dossier.id == Connection.dossier_id)
                .where(
                    Connection.firm_id == actor.firm_id,
                    Connection.firm_application_id == app.id,
                    Connection.dossier_id == dossier_id,
                    Dossier.firm_id == actor.firm_id,
                )
            )
        ).first()
        if row is None or not row[0].active:
            raise NotFound(
                f"dossier {dossier_id} is not connected to {app.entry.slug}",
                key="connections.error.not_connected",
            )
        connection, code, name = row
        connection.active = False
        value = (
            connection.dossier_code_at_app if app.method == "api" else connection.collection_email
        )
        record_change(
            session,
            actor,
            app,
            "connection.disconnected",
            dossier=code,
            dossier_id=dossier_id,
        )
        return Outcome(code, name, "disconnected", value)
