"""Step 2 of the connect wizard by file: the template, and the import (every line checked first,
nothing applied unless the whole file is valid).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.connections.checks import check_value, normal
from hub.connections.lookup import connect_app, folder_choice
from hub.connections.views import CODE_COLUMN, MAX_CODE, ConnectApp, Imported, Outcome
from hub.connections.writing import (
    Change,
    Current,
    apply_changes,
    current_connections,
    record_change,
    taken_values,
)
from hub.errors import ImportRejected
from hub.identity import Actor
from hub.imports.csvfile import Problems, Reason, chunks, read
from hub.rights import require_admin, require_staff
from hub.services import Hub
from storage.models import Dossier


async def template(hub: Hub, actor: Actor, app_id: int) -> tuple[str, bytes]:
    """The template file for this application: its name and bytes (BOM, ``;``)."""
    require_staff(actor)
    async with hub.sessions() as session:
        app = await connect_app(hub, session, actor, app_id)
    text = (
        resources.files("hub.connections")
        .joinpath("data", "import-connections.csv")
        .read_text("utf-8-sig")
    )
    header = f"{CODE_COLUMN};{app.value_column}"
    lines = [line for line in text.splitlines() if line.startswith("#")]
    body = "\n".join([*lines, header]) + "\n"
    slug = app.entry.slug
    return f"relais-connexions-{slug}.csv", ("\ufeff" + body).encode("utf-8")


def _rows(app: ConnectApp, data: bytes, problems: Problems) -> list[tuple[int, str, str]]:
    """(line, dossier code, value) per data line; header and shape problems noted."""
    expected = (CODE_COLUMN, app.value_column)

    def check_header(columns: list[str], line: int) -> None:
        for column in expected:
            if column not in columns:
                problems.add(
                    line,
                    f"missing column {column}",
                    "missing_column",
                    column=column,
                    expected=";".join(expected),
                )
        for column in columns:
            if column and column not in expected:
                problems.add(
                    line,
                    f"unknown column {column}",
                    "unknown_column",
                    column=column,
                    expected=";".join(expected),
                )

    return [
        (line, values.get(CODE_COLUMN, ""), values.get(app.value_column, ""))
        for line, values in read(data, problems, check_header)
    ]


async def import_file(hub: Hub, actor: Actor, app_id: int, folder_id: int, data: bytes) -> Imported:
    """Connect the file's dossiers (to the step-1 folder): every line checked first, every bad
    line reported with its number and reason, nothing applied unless the whole file is valid."""
    require_admin(actor)
    async with hub.sessions() as session, session.begin():
        app = await connect_app(hub, session, actor, app_id)
        folder = await folder_choice(session, actor, folder_id)
        problems = Problems("connections.reason")
        rows = _rows(app, data, problems)
        dossiers = await _dossiers(session, actor.firm_id, rows)
        current = await current_connections(
            session, actor.firm_id, app, folder.id, [i for i, _ in dossiers.values()]
        )
        lines = _Lines(
            app, problems, dossiers, current, await taken_values(session, actor.firm_id, app)
        )
        for line, code, raw in rows:
            lines.add(line, code, raw)
        problems.raise_if_any()
        if not rows:
            raise ImportRejected(
                [(1, Reason("the file has no dossier", "connections.reason.empty"))]
            )
        outcomes = await apply_changes(session, actor, app, folder, lines.changes)
        created = sum(1 for o in outcomes if o.action == "connected")
        result = Imported(
            folder=folder.path,
            outcomes=sorted([*outcomes, *lines.unchanged], key=lambda o: o.code),
            created=created,
            updated=len(outcomes) - created,
            unchanged=len(lines.unchanged),
            generated=sum(1 for o in outcomes if o.generated),
        )
        if outcomes:
            record_change(
                session,
                actor,
                app,
                "connections.imported",
                folder=folder.path,
                created=result.created,
                updated=result.updated,
                unchanged=result.unchanged,
                generated=result.generated,
            )
        return result


async def _dossiers(
    session: AsyncSession, firm_id: int, rows: Sequence[tuple[int, str, str]]
) -> dict[str, tuple[int, str]]:
    """The firm's dossiers named in the file: code → (id, name)."""
    codes = sorted({code for _, code, _ in rows if code})
    dossiers: dict[str, tuple[int, str]] = {}
    for chunk in chunks(codes):
        for i, code, name in await session.execute(
            select(Dossier.id, Dossier.code, Dossier.name).where(
                Dossier.firm_id == firm_id, Dossier.code.in_(chunk)
            )
        ):
            dossiers[code] = (i, name)
    return dossiers


@dataclass
class _Lines:
    """The file's lines sorted into changes, lines that change nothing, and problems."""

    app: ConnectApp
    problems: Problems
    dossiers: dict[str, tuple[int, str]]  # code → (id, name)
    current: dict[int, Current]
    taken: dict[str, int]  # value (lower-cased) → the dossier that has it
    changes: list[Change] = field(default_factory=list)
    unchanged: list[Outcome] = field(default_factory=list)
    first_code: dict[str, int] = field(default_factory=dict)
    first_value: dict[str, int] = field(default_factory=dict)

    def add(self, line: int, code: str, raw: str) -> None:
        known = self._dossier(line, code)
        if known is None:
            return
        dossier_id, name = known
        cur = self.current.get(dossier_id)
        value, generate = self._value(cur, raw)
        if not generate and not self._value_ok(line, code, raw, value, dossier_id):
            return
        if not generate and _unchanged(cur, value):
            self.unchanged.append(Outcome(code, name, "unchanged", value))
            return
        self.changes.append(
            Change(
                dossier_id,
                code,
                name,
                True,
                None if generate else value,
                cur,
                add_folder=True,
                line=line,
            )
        )

    def _dossier(self, line: int, code: str) -> tuple[int, str] | None:
        """The line's dossier (id, name), or None when its code is missing, repeated or unknown."""
        if not code:
            self.problems.add(line, "dossier_code is required", "dossier_code_missing")
            return None
        if code in self.first_code:
            self.problems.add(
                line,
                f"dossier {code} already on line {self.first_code[code]}",
                "duplicate",
                code=code,
                first=self.first_code[code],
            )
            return None
        self.first_code[code] = line
        known = self.dossiers.get(code)
        if known is None:
            self.problems.add(line, f"unknown dossier {code}", "unknown_dossier", code=code)
        return known

    def _value(self, cur: Current | None, raw: str) -> tuple[str, bool]:
        """The value to store, and whether one must be generated instead."""
        value = normal(self.app, raw)
        if value or not self.app.generates:
            return value, False
        # An empty address on an application that generates them: keep the dossier's address,
        # or make one.
        if cur is not None and cur.value:
            return cur.value, False
        return value, True

    def _value_ok(self, line: int, code: str, raw: str, value: str, dossier_id: int) -> bool:
        """Whether the value is well-formed and nobody else's (a problem noted when not)."""
        reason = check_value(self.app, value)
        if reason:
            self.problems.add(
                line,
                f"{reason} ({raw!r})",
                reason.rsplit(".", 1)[1],
                code=code,
                value=raw,
                limit=MAX_CODE,
            )
            return False
        low = value.lower()
        if low in self.first_value:
            self.problems.add(
                line,
                f"{value} already on line {self.first_value[low]}",
                f"{self.app.method}_duplicate",
                value=value,
                first=self.first_value[low],
            )
            return False
        self.first_value[low] = line
        owner = self.taken.get(low)
        if owner is not None and owner != dossier_id:
            other = next((c for c, (i, _) in self.dossiers.items() if i == owner), "")
            self.problems.add(
                line,
                f"{value} is already used by another dossier",
                f"{self.app.method}_taken",
                value=value,
                other=other or "?",
            )
            return False
        return True


def _unchanged(cur: Current | None, value: str) -> bool:
    """Connected, authorized, with this value and the folder already: nothing to write."""
    return (
        cur is not None and cur.active and cur.authorized and cur.value == value and cur.has_folder
    )
