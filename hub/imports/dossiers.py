"""Importing dossiers: an upsert keyed by code; new dossiers get the firm's default applications."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.applications import attach_defaults
from hub.imports.csvfile import Problems, chunks
from hub.imports.rows import ImportReport, Row, duplicates, email_cell, required_cell
from hub.imports.staff import staff_by_email
from storage.models import Dossier

STATUSES = {
    "active": "active",
    "actif": "active",
    "inactive": "inactive",
    "inactif": "inactive",
    "archived": "archived",
    "archivé": "archived",
    "archive": "archived",
}

_CODE = re.compile(r"^[^\s|;,]{1,64}$")
# The file's email columns → the dossier's staff columns.
PEOPLE = {"master_email": "master_id", "engagement_manager_email": "engagement_manager_id"}


async def _existing_dossiers(
    session: AsyncSession, firm_id: int, codes: Sequence[str]
) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for chunk in chunks(codes):
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


async def upsert_dossiers(
    session: AsyncSession, firm_id: int, rows: list[Row], problems: Problems
) -> ImportReport:
    duplicate_lines = duplicates(rows, "code", problems, "duplicate_code")
    staff = {
        email: user.id
        for email, user in (await staff_by_email(session, firm_id)).items()
        if user.active
    }
    checked: list[tuple[str, dict[str, Any]]] = []
    for row in rows:
        code, values = _checked(row, staff, problems)
        if code and "name" in values and row.line not in duplicate_lines:
            checked.append((code, values))
    problems.raise_if_any()

    existing = await _existing_dossiers(session, firm_id, [code for code, _ in checked])
    new: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    unchanged = 0
    for code, values in checked:
        current = existing.get(code)
        if current is None:
            new.append(_new(firm_id, code, values))
            continue
        merged = _merged(current, values)
        if all(getattr(current, key) == value for key, value in merged.items()):
            unchanged += 1
        else:
            changed.append({"id": current.id, **merged})

    new_ids: list[int] = []
    for chunk in chunks(new):
        new_ids.extend(await session.scalars(insert(Dossier).returning(Dossier.id), list(chunk)))
    if changed:
        await session.execute(update(Dossier), changed)
    await attach_defaults(session, firm_id, new_ids)
    return ImportReport("dossiers", len(new), len(changed), unchanged)


def _checked(row: Row, staff: dict[str, int], problems: Problems) -> tuple[str, dict[str, Any]]:
    """The line's code ('' when wrong) and the values its cells give; problems noted. ``name`` is
    among the values only when valid."""
    code = _code(row, problems)
    name = required_cell(row, "name", problems, 300)
    values: dict[str, Any] = {}
    if name is not None:
        values["name"] = name
    if row.has("status"):
        values["status"] = _status(row, problems)
    values.update(_people(row, staff, problems))
    return code, values


def _code(row: Row, problems: Problems) -> str:
    code = row.get("code")
    if code and not _CODE.match(code):
        problems.add(row.line, f"dossier code {code!r} is not valid", "bad_code", value=code)
        return ""
    if not code:
        problems.add(row.line, "code is required", "required", column="code")
    return code


def _status(row: Row, problems: Problems) -> str | None:
    raw = row.get("status").lower()
    status = STATUSES.get(raw or "active")
    if status is None:
        problems.add(
            row.line,
            f"status must be active, inactive or archived, not {raw!r}",
            "bad_status",
            value=raw,
        )
    return status


def _people(row: Row, staff: dict[str, int], problems: Problems) -> dict[str, int | None]:
    """The master and engagement manager the line names (None: the cell is empty)."""
    values: dict[str, int | None] = {}
    for column, field in PEOPLE.items():
        if not row.has(column):
            continue
        email = email_cell(row, column, problems)
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
    return values


def _new(firm_id: int, code: str, values: dict[str, Any]) -> dict[str, Any]:
    return {
        "firm_id": firm_id,
        "code": code,
        "name": values["name"],
        "status": values.get("status", "active"),
        "master_id": values.get("master_id"),
        "engagement_manager_id": values.get("engagement_manager_id"),
    }


def _merged(current: Any, values: dict[str, Any]) -> dict[str, Any]:
    """The dossier once the line is applied: a column left out of the file keeps its value."""
    return {
        "name": values["name"],
        "status": values.get("status", current.status),
        "master_id": values.get("master_id", current.master_id),
        "engagement_manager_id": values.get("engagement_manager_id", current.engagement_manager_id),
    }
