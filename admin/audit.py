"""The Audit page: every change, with filters."""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    """Register this area's routes (named after the navigation item for its main page)."""
