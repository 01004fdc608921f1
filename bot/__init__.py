"""The Teams face (stub)."""

from __future__ import annotations

from aiohttp import web

from hub.settings import Settings


def setup(app: web.Application, settings: Settings) -> None:
    return None
