"""Lookups the applications use-cases share: the catalog entries a firm could add, its SIC codes,
one of its applications, one catalog application. Firm-scoped; another firm's id is "not found".
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.applications.views import CatalogEntry
from hub.errors import NotFound
from hub.identity import Actor
from storage.models import CatalogApp, Firm, FirmApplication


async def addable(session: AsyncSession, firm_id: int) -> list[CatalogEntry]:
    taken = select(FirmApplication.catalog_app_id).where(FirmApplication.firm_id == firm_id)
    apps = await session.scalars(
        select(CatalogApp)
        .where(CatalogApp.retired.is_(False), CatalogApp.id.not_in(taken))
        .order_by(CatalogApp.kind, CatalogApp.label)
    )
    return [CatalogEntry.of(a) for a in apps]


async def sic_codes(session: AsyncSession, actor: Actor) -> list[str]:
    codes = await session.scalar(select(Firm.sic_codes).where(Firm.id == actor.firm_id))
    return [str(c) for c in codes or []]


async def firm_app(session: AsyncSession, actor: Actor, app_id: int) -> FirmApplication:
    app = await session.scalar(
        select(FirmApplication).where(
            FirmApplication.id == app_id, FirmApplication.firm_id == actor.firm_id
        )
    )
    if app is None:
        raise NotFound(f"no application {app_id} in firm {actor.firm_id}")
    return app


async def catalog_app(session: AsyncSession, catalog_app_id: int) -> CatalogApp:
    app = await session.get(CatalogApp, catalog_app_id)
    if app is None:
        raise NotFound(f"no catalog app {catalog_app_id}")
    return app
