"""A dossier's folders and documents (upload), and the firm's API tokens for the REST API."""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    """Register this area's routes."""
