"""The document REST API (``/api/v1``): a sub-application of its own, authenticated by firm API
tokens, without the panel's cookies and CSRF (it is for machines, not browsers)."""

from __future__ import annotations

from aiohttp import web

from hub.settings import Settings


def create_rest_app(settings: Settings) -> web.Application:
    return web.Application()
