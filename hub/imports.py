"""CSV imports of staff, dossiers and contacts (issue 3), shared by the panel and ``relais import``.

The whole file is checked before anything is written: every bad line is reported with its line
number and reason (:class:`~hub.errors.ImportRejected`), and nothing is applied unless the file is
valid. A valid file is an upsert keyed by email (staff, contacts) or code (dossiers), made in one
transaction with bulk statements, so re-importing the same file changes nothing and 10,000 lines
take a handful of queries rather than 10,000.

Format: UTF-8 (with or without BOM), a header row, ``;`` or ``,`` between cells (detected from the
header, since French Excel writes ``;``). Lines whose first cell starts with ``#`` are comments (the
templates document their columns that way). A column left out of the file leaves that value as it
is; a column present with an empty cell means the default (no master, ``active``, ``collaborator``).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub import audit
from hub.csvfile import MAX_IMPORT_BYTES, Problems, Reason, read
from hub.csvfile import chunks as _chunks
from hub.defaults import attach_defaults
from hub.errors import InvalidInput, NotFound
from hub.identity import Actor
from hub.rights import require_admin
from hub.services import Hub
from storage.models import Contact, ContactDossier, Dossier, Firm, StaffUser

KINDS = ("staff", "dossiers", "contacts")

COLUMNS: dict[str, tuple[str, ...]] = {
    "staff": ("email", "display_name", "role", "rights_manager", "entra_object_id"),
    "dossiers": ("code", "name", "status", "master_email", "engagement_manager_email"),
    "contacts": ("first_name", "last_name", "email", "phone", "dossier_codes"),
}
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "staff": ("email", "display_name"),
    "dossiers": ("code", "name"),
    "contacts": ("email",),
}

ROLES = {
    "administrator": "administrator",
    "administrateur": "administrator",
    "admin": "administrator",
    "collaborator": "collaborator",
    "collaborateur": "collaborator",
}
STATUSES = {
    "active": "active",
    "actif": "active",
    "inactive": "inactive",
    "inactif": "inactive",
    "archived": "archived",
    "archivé": "archived",
    "archive": "archived",
}
TRUE = {"1", "yes", "oui", "true", "vrai", "x", "y", "o"}
FALSE = {"0", "no", "non", "false", "faux", "n"}

_EMAIL = re.compile(r"^[^@\s;,|<>]+@[^@\s;,|<>]+\.[^@\s;,|<>]+$")
_PHONE = re.compile(r"^[0-9+().\-\s]{4,40}$")
_CODE = re.compile(r"^[^\s|;,]{1,64}$")


@dataclass(frozen=True)
class ImportReport:
    kind: str
    created: int
    updated: int
    unchanged: int

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


@dataclass(frozen=True)
class _Row:
    line: int
    cells: dict[str, str]

    def has(self, column: str) -> bool:
        return column in self.cells

    def get(self, column: str) -> str:
        return self.cells.get(column, "")


# --------------------------------------------------------------------------- reading the file


def template(kind: str) -> bytes:
    """The downloadable template: a BOM and ``;`` so French Excel opens it as columns."""
    _check_kind(kind)
    return resources.files("hub").joinpath("data", f"import-{kind}.csv").read_bytes()


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise NotFound(f"no import of {kind!r}", key="import.unknown_kind")


def read_rows(kind: str, data: bytes, problems: Problems) -> list[_Row]:
    """Parse and check the shape (header, columns); the values are checked per kind. Bad lines
    are noted in ``problems`` and left out, so one report lists every line at once."""

    def check_header(columns: list[str], line: int) -> None:
        _check_header(kind, columns, line, problems)

    return [_Row(line, cells) for line, cells in read(data, problems, check_header)]


def _check_header(kind: str, columns: list[str], line: int, problems: Problems) -> None:
    known = COLUMNS[kind]
    for column in REQUIRED_COLUMNS[kind]:
        if column not in columns:
            problems.add(line, f"missing required column {column}", "missing_column", column=column)
    seen: set[str] = set()
    for column in columns:
        if column and column not in known:
            problems.add(
                line,
                f"unknown column {column} (expected: {', '.join(known)})",
                "unknown_column",
                column=column,
                expected=", ".join(known),
            )
        elif column in seen:
            problems.add(line, f"column {column} appears twice", "duplicate_column", column=column)
        seen.add(column)


def _email(row: _Row, column: str, problems: Problems, *, required: bool = False) -> str | None:
    """The lower-cased email, '' when empty, or None when invalid (already reported)."""
    value = row.get(column).lower()
    if not value:
        if required:
            problems.add(row.line, f"{column} is required", "required", column=column)
            return None
        return ""
    if len(value) > 320 or not _EMAIL.match(value):
        problems.add(
            row.line,
            f"invalid email {value!r} in {column}",
            "invalid_email",
            column=column,
            value=value,
        )
        return None
    return value


def _required(row: _Row, column: str, problems: Problems, limit: int) -> str | None:
    if not row.get(column):
        problems.add(row.line, f"{column} is required", "required", column=column)
        return None
    return _optional(row, column, problems, limit)


def _optional(row: _Row, column: str, problems: Problems, limit: int) -> str | None:
    value = row.get(column)
    if len(value) > limit:
        problems.add(
            row.line,
            f"{column} is longer than {limit} characters",
            "too_long",
            column=column,
            limit=limit,
        )
        return None
    return value


# --------------------------------------------------------------------------- the use-cases


async def import_file(hub: Hub, actor: Actor, kind: str, data: bytes) -> ImportReport:
    """Check the whole file, then apply it in one transaction; raise ImportRejected if any line is bad."""
    _check_kind(kind)
    _require_importer(actor)
    problems = Problems("import.reason")
    rows = read_rows(kind, data, problems)
    run = {"staff": _import_staff, "dossiers": _import_dossiers, "contacts": _import_contacts}[kind]
    async with hub.sessions() as session, session.begin():
        report = await run(session, actor.firm_id, rows, problems)
        if report.created or report.updated:
            audit.record(
                session,
                actor.firm_id,
                _actor_ref(actor),
                f"import.{kind}",
                "import",
                kind,
                created=report.created,
                updated=report.updated,
                unchanged=report.unchanged,
                lines=report.total,
            )
    return report


async def import_staff(hub: Hub, actor: Actor, data: bytes) -> ImportReport:
    return await import_file(hub, actor, "staff", data)


async def import_dossiers(hub: Hub, actor: Actor, data: bytes) -> ImportReport:
    return await import_file(hub, actor, "dossiers", data)


async def import_contacts(hub: Hub, actor: Actor, data: bytes) -> ImportReport:
    return await import_file(hub, actor, "contacts", data)


def command_line_actor(firm: Firm) -> Actor:
    """Whoever runs ``relais import`` on the server already holds the database; they act as the
    system, which the audit trail records as such."""
    return Actor(
        firm_id=firm.id,
        firm_name=firm.name,
        kind="system",
        id=0,
        display_name="relais import",
        locale=firm.default_locale,
    )


async def firm_for_command_line(hub: Hub, tenant_id: str | None) -> Firm:
    """The firm of ``--tenant``; without it, the only firm (several firms need the option)."""
    async with hub.sessions() as session:
        if tenant_id:
            firm = await session.scalar(select(Firm).where(Firm.tenant_id == tenant_id))
            if firm is None:
                raise NotFound(f"no firm has tenant id {tenant_id}")
            return firm
        firms = list(await session.scalars(select(Firm).order_by(Firm.id).limit(2)))
    if not firms:
        raise NotFound("there is no firm in this database yet")
    if len(firms) > 1:
        raise InvalidInput("several firms share this database: choose one with --tenant TENANT_ID")
    return firms[0]


def _require_importer(actor: Actor) -> None:
    if actor.kind == "system":
        return
    require_admin(actor)


def _actor_ref(actor: Actor) -> str:
    return "system" if actor.kind == "system" else actor.ref


def _duplicates(rows: Iterable[_Row], key: str, problems: Problems, reason: str) -> set[int]:
    """Lines whose key repeats an earlier line's; both are the person's mistake, the later is named."""
    first: dict[str, int] = {}
    bad: set[int] = set()
    for row in rows:
        value = row.get(key).lower() if "email" in key else row.get(key)
        if not value:
            continue
        if value in first:
            problems.add(
                row.line,
                f"{key} {value} already on line {first[value]}",
                reason,
                value=value,
                first=first[value],
            )
            bad.add(row.line)
        else:
            first[value] = row.line
    return bad


async def _staff_by_email(session: AsyncSession, firm_id: int) -> dict[str, StaffUser]:
    users = await session.scalars(select(StaffUser).where(StaffUser.firm_id == firm_id))
    return {user.email.lower(): user for user in users}


def _flag(row: _Row, problems: Problems) -> bool | None:
    value = row.get("rights_manager").lower()
    if value in TRUE:
        return True
    if value in FALSE or not value:
        return False
    problems.add(
        row.line, f"rights_manager must be yes or no, not {value!r}", "bad_flag", value=value
    )
    return None


async def _import_staff(
    session: AsyncSession, firm_id: int, rows: list[_Row], problems: Problems
) -> ImportReport:
    duplicate_lines = _duplicates(rows, "email", problems, "duplicate_email")
    duplicate_lines |= _duplicates(rows, "entra_object_id", problems, "duplicate_object_id")
    existing = await _staff_by_email(session, firm_id)
    owner_of_object_id = {user.entra_object_id.lower(): email for email, user in existing.items()}

    new: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    unchanged = 0
    roles_after = {email: user.role for email, user in existing.items() if user.active}
    demotion_line: dict[str, int] = {}
    for row in rows:
        email = _email(row, "email", problems, required=True)
        name = _required(row, "display_name", problems, 200)
        role: str | None = None
        if row.has("role"):
            raw = row.get("role").lower()
            role = ROLES.get(raw or "collaborator")
            if role is None:
                problems.add(
                    row.line,
                    f"role must be administrator or collaborator, not {raw!r}",
                    "bad_role",
                    value=raw,
                )
        flag = _flag(row, problems) if row.has("rights_manager") else None
        object_id = row.get("entra_object_id").lower()
        if object_id:
            try:
                object_id = str(uuid.UUID(object_id))
            except ValueError:
                problems.add(
                    row.line,
                    f"entra_object_id {object_id!r} is not a GUID",
                    "bad_object_id",
                    value=object_id,
                )
                continue
        if email is None or name is None or row.line in duplicate_lines:
            continue
        user = existing.get(email)
        if object_id and owner_of_object_id.get(object_id, email) != email:
            problems.add(
                row.line,
                f"entra_object_id {object_id} belongs to {owner_of_object_id[object_id]}",
                "object_id_taken",
                value=object_id,
                email=owner_of_object_id[object_id],
            )
            continue
        if user is None:
            if not object_id:
                problems.add(
                    row.line, "entra_object_id is required for a new person", "object_id_required"
                )
                continue
            new.append(
                {
                    "firm_id": firm_id,
                    "email": email,
                    "display_name": name,
                    "role": role or "collaborator",
                    "rights_manager": bool(flag),
                    "entra_object_id": object_id,
                }
            )
            continue
        values: dict[str, Any] = {
            "display_name": name,
            "role": role if role is not None else user.role,
            "rights_manager": flag if flag is not None else user.rights_manager,
            "entra_object_id": object_id or user.entra_object_id,
        }
        if user.active and values["role"] != "administrator" and user.role == "administrator":
            demotion_line[email] = row.line
        if user.active:
            roles_after[email] = values["role"]
        if all(getattr(user, key) == value for key, value in values.items()):
            unchanged += 1
        else:
            changed.append({"id": user.id, **values})

    if (
        demotion_line
        and "administrator" not in roles_after.values()
        and not any(n["role"] == "administrator" for n in new)
    ):
        for email, line in demotion_line.items():
            problems.add(
                line, f"{email} is the firm's last administrator", "last_admin", email=email
            )
    problems.raise_if_any()

    if new:
        await session.execute(insert(StaffUser), new)
    if changed:
        await session.execute(update(StaffUser), changed)
    return ImportReport("staff", len(new), len(changed), unchanged)


async def _existing_dossiers(
    session: AsyncSession, firm_id: int, codes: Sequence[str]
) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for chunk in _chunks(codes):
        result = await session.execute(
            select(
                Dossier.id,
                Dossier.code,
                Dossier.name,
                Dossier.status,
                Dossier.master_id,
                Dossier.engagement_manager_id,
            ).where(Dossier.firm_id == firm_id, Dossier.code.in_(chunk))
        )
        found.update({row.code: row for row in result})
    return found


async def _import_dossiers(
    session: AsyncSession, firm_id: int, rows: list[_Row], problems: Problems
) -> ImportReport:
    duplicate_lines = _duplicates(rows, "code", problems, "duplicate_code")
    staff = {
        email: user.id
        for email, user in (await _staff_by_email(session, firm_id)).items()
        if user.active
    }
    people = {"master_email": "master_id", "engagement_manager_email": "engagement_manager_id"}

    checked: list[tuple[_Row, str, dict[str, Any]]] = []
    for row in rows:
        code = row.get("code")
        if code and not _CODE.match(code):
            problems.add(row.line, f"dossier code {code!r} is not valid", "bad_code", value=code)
            code = ""
        elif not code:
            problems.add(row.line, "code is required", "required", column="code")
        name = _required(row, "name", problems, 300)
        values: dict[str, Any] = {}
        if name is not None:
            values["name"] = name
        if row.has("status"):
            raw = row.get("status").lower()
            status = STATUSES.get(raw or "active")
            if status is None:
                problems.add(
                    row.line,
                    f"status must be active, inactive or archived, not {raw!r}",
                    "bad_status",
                    value=raw,
                )
            values["status"] = status
        for column, field in people.items():
            if not row.has(column):
                continue
            email = _email(row, column, problems)
            if email is None:
                continue
            if email and email not in staff:
                problems.add(
                    row.line,
                    f"{email} ({column}) is not an active staff member of the firm",
                    "unknown_staff",
                    column=column,
                    value=email,
                )
                continue
            values[field] = staff[email] if email else None
        if code and name is not None and row.line not in duplicate_lines:
            checked.append((row, code, values))
    problems.raise_if_any()

    existing = await _existing_dossiers(session, firm_id, [code for _, code, _ in checked])
    new: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    unchanged = 0
    for _row, code, values in checked:
        current = existing.get(code)
        if current is None:
            new.append(
                {
                    "firm_id": firm_id,
                    "code": code,
                    "name": values["name"],
                    "status": values.get("status", "active"),
                    "master_id": values.get("master_id"),
                    "engagement_manager_id": values.get("engagement_manager_id"),
                }
            )
            continue
        merged = {
            "name": values["name"],
            "status": values.get("status", current.status),
            "master_id": values.get("master_id", current.master_id),
            "engagement_manager_id": values.get(
                "engagement_manager_id", current.engagement_manager_id
            ),
        }
        if all(getattr(current, key) == value for key, value in merged.items()):
            unchanged += 1
        else:
            changed.append({"id": current.id, **merged})

    new_ids: list[int] = []
    for chunk in _chunks(new):
        new_ids.extend(await session.scalars(insert(Dossier).returning(Dossier.id), list(chunk)))
    if changed:
        await session.execute(update(Dossier), changed)
    await attach_defaults(session, firm_id, new_ids)
    return ImportReport("dossiers", len(new), len(changed), unchanged)


async def _import_contacts(
    session: AsyncSession, firm_id: int, rows: list[_Row], problems: Problems
) -> ImportReport:
    duplicate_lines = _duplicates(rows, "email", problems, "duplicate_email")
    wanted_codes = sorted(
        {
            code.strip()
            for row in rows
            for code in row.get("dossier_codes").split("|")
            if code.strip()
        }
    )
    dossier_ids: dict[str, int] = {}
    for chunk in _chunks(wanted_codes):
        result = await session.execute(
            select(Dossier.code, Dossier.id).where(
                Dossier.firm_id == firm_id, Dossier.code.in_(chunk)
            )
        )
        dossier_ids.update({code: dossier_id for code, dossier_id in result})

    checked: list[tuple[str, dict[str, str], list[int]]] = []
    for row in rows:
        email = _email(row, "email", problems, required=True)
        values: dict[str, str] = {}
        for column, limit in (("first_name", 100), ("last_name", 100)):
            if row.has(column):
                value = _optional(row, column, problems, limit)
                if value is not None:
                    values[column] = value
        if row.has("phone"):
            phone = row.get("phone")
            if phone and not _PHONE.match(phone):
                problems.add(row.line, f"invalid phone number {phone!r}", "bad_phone", value=phone)
            else:
                values["phone"] = phone
        links: list[int] = []
        for code in (c.strip() for c in row.get("dossier_codes").split("|")):
            if not code:
                continue
            if code not in dossier_ids:
                problems.add(
                    row.line, f"unknown dossier code {code}", "unknown_dossier", value=code
                )
            else:
                links.append(dossier_ids[code])
        if email is not None and row.line not in duplicate_lines:
            checked.append((email, values, links))
    problems.raise_if_any()

    existing: dict[str, Any] = {}
    emails = [email for email, _, _ in checked]
    for chunk in _chunks(emails):
        result = await session.execute(
            select(
                Contact.id, Contact.email, Contact.first_name, Contact.last_name, Contact.phone
            ).where(Contact.firm_id == firm_id, Contact.email.in_(chunk))
        )
        existing.update({row.email: row for row in result})
    linked: set[tuple[int, int]] = set()
    contact_ids = [row.id for row in existing.values()]
    for chunk in _chunks(contact_ids):
        result = await session.execute(
            select(ContactDossier.contact_id, ContactDossier.dossier_id).where(
                ContactDossier.firm_id == firm_id, ContactDossier.contact_id.in_(chunk)
            )
        )
        linked.update((row.contact_id, row.dossier_id) for row in result)

    new: list[dict[str, Any]] = []
    new_links: dict[str, list[int]] = {}
    changed: list[dict[str, Any]] = []
    link_rows: list[dict[str, int]] = []
    updated = unchanged = 0
    for email, values, links in checked:
        current = existing.get(email)
        if current is None:
            new.append(
                {
                    "firm_id": firm_id,
                    "email": email,
                    "first_name": values.get("first_name", ""),
                    "last_name": values.get("last_name", ""),
                    "phone": values.get("phone", ""),
                }
            )
            new_links[email] = links
            continue
        merged = {
            key: values.get(key, getattr(current, key))
            for key in ("first_name", "last_name", "phone")
        }
        missing = [d for d in dict.fromkeys(links) if (current.id, d) not in linked]
        link_rows.extend(
            {"firm_id": firm_id, "contact_id": current.id, "dossier_id": d} for d in missing
        )
        if any(getattr(current, key) != value for key, value in merged.items()):
            changed.append({"id": current.id, **merged})
            updated += 1
        elif missing:
            # Only new dossier links: the contact still changed as the person sees it.
            updated += 1
        else:
            unchanged += 1

    for chunk in _chunks(new):
        result = await session.execute(
            insert(Contact).returning(Contact.id, Contact.email), list(chunk)
        )
        for created in result:
            link_rows.extend(
                {"firm_id": firm_id, "contact_id": created.id, "dossier_id": d}
                for d in dict.fromkeys(new_links[created.email])
            )
    if changed:
        await session.execute(update(Contact), changed)
    if link_rows:
        await session.execute(insert(ContactDossier), link_rows)
    return ImportReport("contacts", len(new), updated, unchanged)


__all__ = [
    "COLUMNS",
    "KINDS",
    "MAX_IMPORT_BYTES",
    "ImportReport",
    "Reason",
    "command_line_actor",
    "firm_for_command_line",
    "import_contacts",
    "import_dossiers",
    "import_file",
    "import_staff",
    "template",
]
