"""Portfolio, Dossiers and Contacts: lists, the per-dossier applications dialog, propose a service."""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    """Register this area's routes (named after the navigation item for its main page)."""
