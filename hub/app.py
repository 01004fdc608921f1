"""The composition root: builds the aiohttp application from settings and mounts both faces.

Nothing here runs at import time. ``build_app`` is what ``relais serve`` and every test call; the
engine (and, later, HTTP clients and the delivery worker) are opened and closed in
``cleanup_ctx`` so a test's app leaves nothing behind.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web
from sqlalchemy import text

import admin
import bot
from hub.context import ENGINE, HUB, SESSIONS, SETTINGS
from hub.errors import DatabaseNotReady
from hub.services import build_services
from hub.settings import Settings
from storage.db import create_engine, session_factory
from storage.migrate import current_revision, head_revision

log = logging.getLogger("relais.app")


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    engine = create_engine(settings.database_url)
    try:
        current, head = await current_revision(engine), head_revision()
        if current != head:
            raise DatabaseNotReady(
                f"The database is at revision {current or 'none'} but this code needs {head}. "
                "Run `relais db upgrade` first."
            )
        app[ENGINE] = engine
        app[SESSIONS] = session_factory(engine)
        app[HUB] = build_services(settings, app[SESSIONS])
        yield
    finally:
        await engine.dispose()


async def healthz(request: web.Request) -> web.Response:
    try:
        async with request.app[ENGINE].connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:
        log.exception("health check: database unreachable")
        return web.json_response({"status": "error", "database": "unreachable"}, status=503)
    return web.json_response({"status": "ok", "database": "ok"})


async def index(request: web.Request) -> web.Response:
    raise web.HTTPFound("/admin/")


def build_app(settings: Settings) -> web.Application:
    app = web.Application(client_max_size=25 * 1024 * 1024)
    app[SETTINGS] = settings
    app.cleanup_ctx.append(_database)
    app.router.add_get("/", index)
    app.router.add_get("/healthz", healthz)
    bot.setup(app)
    app.add_subapp("/admin", admin.create_app(settings))
    app.add_subapp("/api/v1", admin.create_rest_app(settings))
    return app
