"""Importing staff: an upsert keyed by email; the firm never loses its last administrator."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.imports.csvfile import Problems
from hub.imports.rows import ImportReport, Row, duplicates, email_cell, required_cell
from storage.models import StaffUser

ROLES = {
    "administrator": "administrator",
    "administrateur": "administrator",
    "admin": "administrator",
    "collaborator": "collaborator",
    "collaborateur": "collaborator",
}
TRUE = {"1", "yes", "oui", "true", "vrai", "x", "y", "o"}
FALSE = {"0", "no", "non", "false", "faux", "n"}


async def staff_by_email(session: AsyncSession, firm_id: int) -> dict[str, StaffUser]:
    users = await session.scalars(select(StaffUser).where(StaffUser.firm_id == firm_id))
    return {user.email.lower(): user for user in users}


def _flag(row: Row, problems: Problems) -> bool | None:
    value = row.get("rights_manager").lower()
    if value in TRUE:
        return True
    if value in FALSE or not value:
        return False
    problems.add(
        row.line, f"rights_manager must be yes or no, not {value!r}", "bad_flag", value=value
    )
    return None


async def upsert_staff(
    session: AsyncSession, firm_id: int, rows: list[Row], problems: Problems
) -> ImportReport:
    duplicate_lines = duplicates(rows, "email", problems, "duplicate_email")
    duplicate_lines |= duplicates(rows, "entra_object_id", problems, "duplicate_object_id")
    plan = _Plan(firm_id, await staff_by_email(session, firm_id), problems)
    for row in rows:
        person = _person(row, problems, duplicate_lines)
        if person is not None:
            plan.add(person)
    plan.check_last_admin()
    problems.raise_if_any()

    if plan.new:
        await session.execute(insert(StaffUser), plan.new)
    if plan.changed:
        await session.execute(update(StaffUser), plan.changed)
    return ImportReport("staff", len(plan.new), len(plan.changed), plan.unchanged)


@dataclass(frozen=True)
class _Person:
    """One line's values, each checked on its own. ``role`` and ``flag`` None: not in the file."""

    line: int
    email: str
    name: str
    role: str | None
    flag: bool | None
    object_id: str


def _person(row: Row, problems: Problems, duplicate_lines: set[int]) -> _Person | None:
    """The line's person, or None when a cell is wrong (noted) or the line repeats another."""
    email = email_cell(row, "email", problems, required=True)
    name = required_cell(row, "display_name", problems, 200)
    role = _role(row, problems)
    flag = _flag(row, problems) if row.has("rights_manager") else None
    object_id = _object_id(row, problems)
    if object_id is None or email is None or name is None or row.line in duplicate_lines:
        return None
    return _Person(row.line, email, name, role, flag, object_id)


def _role(row: Row, problems: Problems) -> str | None:
    if not row.has("role"):
        return None
    raw = row.get("role").lower()
    role = ROLES.get(raw or "collaborator")
    if role is None:
        problems.add(
            row.line,
            f"role must be administrator or collaborator, not {raw!r}",
            "bad_role",
            value=raw,
        )
    return role


def _object_id(row: Row, problems: Problems) -> str | None:
    """The Entra object id in its canonical form, '' when empty, None when not a GUID (noted)."""
    object_id = row.get("entra_object_id").lower()
    if not object_id:
        return ""
    try:
        return str(uuid.UUID(object_id))
    except ValueError:
        problems.add(
            row.line,
            f"entra_object_id {object_id!r} is not a GUID",
            "bad_object_id",
            value=object_id,
        )
        return None


@dataclass
class _Plan:
    """What the file does to the firm's staff: rows to insert, rows to update, lines unchanged."""

    firm_id: int
    existing: dict[str, StaffUser]  # by lower-cased email
    problems: Problems
    new: list[dict[str, Any]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)
    unchanged: int = 0
    demotion_line: dict[str, int] = field(default_factory=dict)
    roles_after: dict[str, str] = field(init=False)  # active staff → role once applied
    owner_of_object_id: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.roles_after = {e: u.role for e, u in self.existing.items() if u.active}
        self.owner_of_object_id = {u.entra_object_id.lower(): e for e, u in self.existing.items()}

    def add(self, person: _Person) -> None:
        owner = self.owner_of_object_id.get(person.object_id, person.email)
        if person.object_id and owner != person.email:
            self.problems.add(
                person.line,
                f"entra_object_id {person.object_id} belongs to {owner}",
                "object_id_taken",
                value=person.object_id,
                email=owner,
            )
            return
        user = self.existing.get(person.email)
        if user is None:
            self._create(person)
        else:
            self._update(user, person)

    def _create(self, person: _Person) -> None:
        if not person.object_id:
            self.problems.add(
                person.line, "entra_object_id is required for a new person", "object_id_required"
            )
            return
        self.new.append(
            {
                "firm_id": self.firm_id,
                "email": person.email,
                "display_name": person.name,
                "role": person.role or "collaborator",
                "rights_manager": bool(person.flag),
                "entra_object_id": person.object_id,
            }
        )

    def _update(self, user: StaffUser, person: _Person) -> None:
        values: dict[str, Any] = {
            "display_name": person.name,
            "role": person.role if person.role is not None else user.role,
            "rights_manager": person.flag if person.flag is not None else user.rights_manager,
            "entra_object_id": person.object_id or user.entra_object_id,
        }
        if user.active:
            if values["role"] != "administrator" and user.role == "administrator":
                self.demotion_line[person.email] = person.line
            self.roles_after[person.email] = values["role"]
        if all(getattr(user, key) == value for key, value in values.items()):
            self.unchanged += 1
        else:
            self.changed.append({"id": user.id, **values})

    def check_last_admin(self) -> None:
        """Refuse every demotion when, once applied, the firm would have no active administrator."""
        if (
            self.demotion_line
            and "administrator" not in self.roles_after.values()
            and not any(n["role"] == "administrator" for n in self.new)
        ):
            for email, line in self.demotion_line.items():
                self.problems.add(
                    line, f"{email} is the firm's last administrator", "last_admin", email=email
                )
