"""The application catalog: shipped as data (``hub/applications/data/catalog.json``), synchronised
into the database (``relais catalog sync``; the demo firm)."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import CatalogApp

_COLUMNS = {c.key for c in CatalogApp.__table__.columns} - {"id", "retired"}


def shipped_catalog() -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(
        resources.files("hub.applications").joinpath("data", "catalog.json").read_text("utf-8")
    )
    return data


async def sync_catalog(session: AsyncSession) -> int:
    """Insert new entries, update changed ones, retire the ones no longer shipped. Idempotent."""
    existing = {app.slug: app for app in await session.scalars(select(CatalogApp))}
    shipped = shipped_catalog()
    for entry in shipped:
        app = existing.pop(entry["slug"], None) or CatalogApp()
        for key in _COLUMNS:
            if key in entry:
                setattr(app, key, entry[key])
        app.retired = False
        session.add(app)
    for leftover in existing.values():
        leftover.retired = True
    await session.flush()
    return len(shipped)
