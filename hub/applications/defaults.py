"""Default applications (seed 003 §1): switched on automatically for every new dossier.

Called in the same transaction as whatever creates dossiers (imports, the panel), so a dossier
never exists without its defaults. Applications that need a contact are not attached: they are
given to a contact, not to a dossier alone.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import CatalogApp, Connection, FirmApplication


async def attach_defaults(session: AsyncSession, firm_id: int, dossier_ids: Sequence[int]) -> int:
    """Connect the firm's default applications to these (new) dossiers; returns how many links."""
    if not dossier_ids:
        return 0
    defaults = list(
        await session.scalars(
            select(FirmApplication.id)
            .join(CatalogApp, CatalogApp.id == FirmApplication.catalog_app_id)
            .where(
                FirmApplication.firm_id == firm_id,
                FirmApplication.is_default.is_(True),
                CatalogApp.needs_contact.is_(False),
            )
        )
    )
    rows = [
        {"firm_id": firm_id, "firm_application_id": app_id, "dossier_id": dossier_id}
        for app_id in defaults
        for dossier_id in dossier_ids
    ]
    if rows:
        await session.execute(insert(Connection), rows)
    return len(rows)
