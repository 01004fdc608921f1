"""Names instead of stored references: who uploaded a version, whoever they are."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ApiToken, Contact, StaffUser


async def person_names(session: AsyncSession, firm_id: int, refs: Iterable[str]) -> dict[str, str]:
    """``staff:3`` → "Claire Durand", ``contact:5`` → the contact's name, ``token:2`` → its label."""
    wanted: dict[str, set[int]] = defaultdict(set)
    for ref in refs:
        kind, _, ident = ref.partition(":")
        if ident.isdigit():
            wanted[kind].add(int(ident))
    names: dict[str, str] = {}
    if wanted["staff"]:
        rows = await session.execute(
            select(StaffUser.id, StaffUser.display_name).where(
                StaffUser.firm_id == firm_id, StaffUser.id.in_(wanted["staff"])
            )
        )
        names.update({f"staff:{i}": n for i, n in rows})
    if wanted["contact"]:
        contacts = await session.scalars(
            select(Contact).where(Contact.firm_id == firm_id, Contact.id.in_(wanted["contact"]))
        )
        names.update({f"contact:{c.id}": c.display_name for c in contacts})
    if wanted["token"]:
        rows = await session.execute(
            select(ApiToken.id, ApiToken.label).where(
                ApiToken.firm_id == firm_id, ApiToken.id.in_(wanted["token"])
            )
        )
        names.update({f"token:{i}": n for i, n in rows})
    return names
