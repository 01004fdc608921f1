"""Team: staff, roles, the rights-managers group, and the CSV imports (staff, dossiers, contacts)."""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    """Register this area's routes (named after the navigation item for its main page)."""
