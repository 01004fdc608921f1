"""Reading the firm's applications: the Applications tab, and what step 1 of the wizard offers."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.applications.queries import addable, sic_codes
from hub.applications.views import ApplicationRow, CatalogEntry, Choices, Overview
from hub.identity import Actor
from hub.rights import require_admin, require_staff
from hub.services import Hub
from storage.models import CatalogApp, Connection, ContactAccess, FirmApplication


async def overview(hub: Hub, actor: Actor) -> Overview:
    """The Applications tab: the firm's applications, and the catalog entries it could add."""
    require_staff(actor)
    async with hub.sessions() as session:
        apps = list(
            await session.scalars(
                select(FirmApplication)
                .join(CatalogApp, CatalogApp.id == FirmApplication.catalog_app_id)
                .where(FirmApplication.firm_id == actor.firm_id)
                .order_by(CatalogApp.kind, CatalogApp.label)
            )
        )
        counts = await _counts(session, actor.firm_id, Connection)
        accesses = await _counts(session, actor.firm_id, ContactAccess)
        # Seed 000 §1: only administrators see the applications the firm could still add.
        unused = await addable(session, actor.firm_id) if actor.is_admin else []
    rows = [
        ApplicationRow(
            id=a.id,
            entry=CatalogEntry.of(a.catalog_app),
            api_key_id=a.api_key_id,
            has_secret=a.secret_encrypted is not None,
            is_default=a.is_default,
            sic_code=a.sic_code,
            partner_email=a.partner_email,
            dossiers=counts.get(a.id, 0),
            accesses=accesses.get(a.id, 0),
        )
        for a in apps
    ]
    return Overview(applications=rows, unused=unused, can_manage=actor.is_admin)


async def choices(hub: Hub, actor: Actor) -> Choices:
    require_admin(actor)
    async with hub.sessions() as session:
        return Choices(await addable(session, actor.firm_id), await sic_codes(session, actor))


async def _counts(
    session: AsyncSession, firm_id: int, model: type[Connection] | type[ContactAccess]
) -> dict[int, int]:
    rows = await session.execute(
        select(model.firm_application_id, func.count())
        .where(model.firm_id == firm_id)
        .group_by(model.firm_application_id)
    )
    return {app_id: count for app_id, count in rows}
