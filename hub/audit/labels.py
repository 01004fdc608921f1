"""What the audit log shows instead of references: people's names (``staff:3`` → "Claire
Durand") and what each event is about (a person, a dossier code, a contact, the firm)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    AuditEvent,
    CatalogApp,
    Contact,
    Dossier,
    Firm,
    FirmApplication,
    StaffUser,
)


def _ids(refs: Iterable[str], kind: str) -> set[int]:
    found: set[int] = set()
    for ref in refs:
        prefix, _, ident = ref.partition(":")
        if prefix == kind and ident.isdigit():
            found.add(int(ident))
    return found


async def actor_names(session: AsyncSession, firm_id: int, refs: Iterable[str]) -> dict[str, str]:
    refs = list(refs)
    names: dict[str, str] = {}
    staff_ids = _ids(refs, "staff")
    if staff_ids:
        rows = await session.execute(
            select(StaffUser.id, StaffUser.display_name).where(
                StaffUser.firm_id == firm_id, StaffUser.id.in_(staff_ids)
            )
        )
        names.update({f"staff:{ident}": name for ident, name in rows})
    contact_ids = _ids(refs, "contact")
    if contact_ids:
        contacts = await session.scalars(
            select(Contact).where(Contact.firm_id == firm_id, Contact.id.in_(contact_ids))
        )
        names.update({f"contact:{c.id}": c.display_name for c in contacts})
    return names


async def target_labels(
    session: AsyncSession, firm_id: int, events: list[AuditEvent]
) -> dict[tuple[str, str], str]:
    """What each event is about, by name: a person, a dossier code, a contact, an application,
    the firm."""
    wanted: dict[str, set[int]] = {}
    for event in events:
        if event.target_id.isdigit():
            wanted.setdefault(event.target_type, set()).add(int(event.target_id))
    labels: dict[tuple[str, str], str] = {}
    if ids := wanted.get("staff_user"):
        rows = await session.execute(
            select(StaffUser.id, StaffUser.display_name).where(
                StaffUser.firm_id == firm_id, StaffUser.id.in_(ids)
            )
        )
        labels.update({("staff_user", str(i)): name for i, name in rows})
    if ids := wanted.get("dossier"):
        dossiers = await session.execute(
            select(Dossier.id, Dossier.code, Dossier.name).where(
                Dossier.firm_id == firm_id, Dossier.id.in_(ids)
            )
        )
        labels.update({("dossier", str(d.id)): f"{d.code} · {d.name}" for d in dossiers})
    if ids := wanted.get("contact"):
        contacts = await session.scalars(
            select(Contact).where(Contact.firm_id == firm_id, Contact.id.in_(ids))
        )
        labels.update({("contact", str(c.id)): c.display_name for c in contacts})
    if ids := wanted.get("firm_application"):
        apps = await session.execute(
            select(FirmApplication.id, CatalogApp.label)
            .join(CatalogApp, CatalogApp.id == FirmApplication.catalog_app_id)
            .where(FirmApplication.firm_id == firm_id, FirmApplication.id.in_(ids))
        )
        labels.update({("firm_application", str(i)): label for i, label in apps})
    if firm_id in wanted.get("firm", set()):
        name = await session.scalar(select(Firm.name).where(Firm.id == firm_id))
        if name:
            labels[("firm", str(firm_id))] = name
    return labels
