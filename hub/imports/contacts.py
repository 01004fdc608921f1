"""Importing contacts: an upsert keyed by email, linked to the dossiers named in ``dossier_codes``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.imports.csvfile import Problems, chunks
from hub.imports.rows import ImportReport, Row, duplicates, email_cell, optional_cell
from storage.models import Contact, ContactDossier, Dossier

_PHONE = re.compile(r"^[0-9+().\-\s]{4,40}$")


async def upsert_contacts(
    session: AsyncSession, firm_id: int, rows: list[Row], problems: Problems
) -> ImportReport:
    duplicate_lines = duplicates(rows, "email", problems, "duplicate_email")
    dossier_ids = await _dossier_ids(session, firm_id, _codes(rows))
    checked: list[tuple[str, dict[str, str], list[int]]] = []
    for row in rows:
        email = email_cell(row, "email", problems, required=True)
        values = _values(row, problems)
        links = _links(row, dossier_ids, problems)
        if email is not None and row.line not in duplicate_lines:
            checked.append((email, values, links))
    problems.raise_if_any()

    existing = await _existing(session, firm_id, [email for email, _, _ in checked])
    plan = _Plan(firm_id, existing, await _linked(session, firm_id, existing))
    for email, values, links in checked:
        plan.add(email, values, links)
    await plan.apply(session)
    return ImportReport("contacts", len(plan.new), plan.updated, plan.unchanged)


def _codes(rows: list[Row]) -> list[str]:
    """Every dossier code the file names (``|`` between the codes of one line)."""
    return sorted(
        {
            code.strip()
            for row in rows
            for code in row.get("dossier_codes").split("|")
            if code.strip()
        }
    )


async def _dossier_ids(session: AsyncSession, firm_id: int, codes: list[str]) -> dict[str, int]:
    dossier_ids: dict[str, int] = {}
    for chunk in chunks(codes):
        result = await session.execute(
            select(Dossier.code, Dossier.id).where(
                Dossier.firm_id == firm_id, Dossier.code.in_(chunk)
            )
        )
        dossier_ids.update({code: dossier_id for code, dossier_id in result})
    return dossier_ids


def _values(row: Row, problems: Problems) -> dict[str, str]:
    """The names and phone the line gives (a column left out of the file gives nothing)."""
    values: dict[str, str] = {}
    for column, limit in (("first_name", 100), ("last_name", 100)):
        if row.has(column):
            value = optional_cell(row, column, problems, limit)
            if value is not None:
                values[column] = value
    if row.has("phone"):
        phone = row.get("phone")
        if phone and not _PHONE.match(phone):
            problems.add(row.line, f"invalid phone number {phone!r}", "bad_phone", value=phone)
        else:
            values["phone"] = phone
    return values


def _links(row: Row, dossier_ids: dict[str, int], problems: Problems) -> list[int]:
    links: list[int] = []
    for code in (c.strip() for c in row.get("dossier_codes").split("|")):
        if not code:
            continue
        if code not in dossier_ids:
            problems.add(row.line, f"unknown dossier code {code}", "unknown_dossier", value=code)
        else:
            links.append(dossier_ids[code])
    return links


async def _existing(session: AsyncSession, firm_id: int, emails: list[str]) -> dict[str, Any]:
    existing: dict[str, Any] = {}
    for chunk in chunks(emails):
        result = await session.execute(
            select(
                Contact.id, Contact.email, Contact.first_name, Contact.last_name, Contact.phone
            ).where(Contact.firm_id == firm_id, Contact.email.in_(chunk))
        )
        existing.update({row.email: row for row in result})
    return existing


async def _linked(
    session: AsyncSession, firm_id: int, existing: dict[str, Any]
) -> set[tuple[int, int]]:
    """(contact id, dossier id) of the links these contacts already have."""
    linked: set[tuple[int, int]] = set()
    contact_ids = [row.id for row in existing.values()]
    for chunk in chunks(contact_ids):
        result = await session.execute(
            select(ContactDossier.contact_id, ContactDossier.dossier_id).where(
                ContactDossier.firm_id == firm_id, ContactDossier.contact_id.in_(chunk)
            )
        )
        linked.update((row.contact_id, row.dossier_id) for row in result)
    return linked


@dataclass
class _Plan:
    """What the file does: contacts to insert or update, dossier links to add."""

    firm_id: int
    existing: dict[str, Any]  # by email
    linked: set[tuple[int, int]]
    new: list[dict[str, Any]] = field(default_factory=list)
    new_links: dict[str, list[int]] = field(default_factory=dict)
    changed: list[dict[str, Any]] = field(default_factory=list)
    link_rows: list[dict[str, int]] = field(default_factory=list)
    updated: int = 0
    unchanged: int = 0

    def add(self, email: str, values: dict[str, str], links: list[int]) -> None:
        current = self.existing.get(email)
        if current is None:
            self.new.append(
                {
                    "firm_id": self.firm_id,
                    "email": email,
                    "first_name": values.get("first_name", ""),
                    "last_name": values.get("last_name", ""),
                    "phone": values.get("phone", ""),
                }
            )
            self.new_links[email] = links
            return
        merged = {
            key: values.get(key, getattr(current, key))
            for key in ("first_name", "last_name", "phone")
        }
        missing = [d for d in dict.fromkeys(links) if (current.id, d) not in self.linked]
        self.link_rows.extend(
            {"firm_id": self.firm_id, "contact_id": current.id, "dossier_id": d} for d in missing
        )
        if any(getattr(current, key) != value for key, value in merged.items()):
            self.changed.append({"id": current.id, **merged})
            self.updated += 1
        elif missing:
            # Only new dossier links: the contact still changed as the person sees it.
            self.updated += 1
        else:
            self.unchanged += 1

    async def apply(self, session: AsyncSession) -> None:
        """Bulk statements: the new contacts (then their links, once they have ids), the updates."""
        for chunk in chunks(self.new):
            result = await session.execute(
                insert(Contact).returning(Contact.id, Contact.email), list(chunk)
            )
            for created in result:
                self.link_rows.extend(
                    {"firm_id": self.firm_id, "contact_id": created.id, "dossier_id": d}
                    for d in dict.fromkeys(self.new_links[created.email])
                )
        if self.changed:
            await session.execute(update(Contact), self.changed)
        if self.link_rows:
            await session.execute(insert(ContactDossier), self.link_rows)
