"""Connecting dossiers to an automation application (the connect wizard) and the firm's folder tree."""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    """Register this area's routes."""
