"""The Applications tab: the firm's applications, the 3-step add wizard, edit and delete."""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    """Register this area's routes (named after the navigation item for its main page)."""
