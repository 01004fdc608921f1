"""The web admin panel (stub: replaced by the panel helper)."""

from __future__ import annotations

from aiohttp import web

from hub.settings import Settings


def create_app(settings: Settings) -> web.Application:
    return web.Application()
