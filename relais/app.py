"""The composition root: builds the aiohttp application from settings and mounts the faces.

Nothing here runs at import time. ``build_app`` is what ``relais serve`` and every test call: it
builds the hub's services (the engine and clients connect only when first used), hands them to
each face, and checks the database, closes the clients and runs the worker in ``cleanup_ctx``, so
a test's app leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import datetime

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

import admin
import api
import bot
from connectors.addresses import policy_for
from connectors.worker import DeliveryWorker, WorkerConfig
from hub.contacts import refresh_pending
from hub.errors import DatabaseNotReady
from hub.rounds import INVITATIONS, exclusive_round
from hub.services import Hub
from hub.settings import Settings
from relais.keys import ENGINE, HUB, SESSIONS, SETTINGS, WORKER
from relais.services import build_services, check_blobs
from storage.blobs import Blobs
from storage.db import create_engine, session_factory
from storage.migrate import current_revision, head_revision

log = logging.getLogger(__name__)


async def check_revision(engine: AsyncEngine) -> None:
    """Refuse a database that is not at the code's migration head."""
    current, head = await current_revision(engine), head_revision()
    if current != head:
        raise DatabaseNotReady(
            f"The database is at revision {current or 'none'} but this code needs {head}. "
            "Run `relais db upgrade` first."
        )


async def open_engine(settings: Settings) -> AsyncEngine:
    """The engine, once the database is known to be at the code's migration head."""
    engine = create_engine(settings.database_url, busy_timeout=settings.database_busy_timeout)
    try:
        await check_revision(engine)
    except DatabaseNotReady:
        await engine.dispose()
        raise
    return engine


async def _database(app: web.Application) -> AsyncIterator[None]:
    try:
        await check_revision(app[ENGINE])
        await check_blobs(app[HUB].blobs)
        log.info("document files are kept in %s", app[HUB].blobs.describe())
        yield
    finally:
        await app[HUB].aclose()
        await app[ENGINE].dispose()


# How often the background refresher asks Graph about pending invitations.
INVITATION_REFRESH_SECONDS = 300.0


async def _refresh_invitations_forever(app: web.Application) -> None:
    while True:
        await asyncio.sleep(INVITATION_REFRESH_SECONDS)
        try:
            async with exclusive_round(app[HUB], INVITATIONS) as ours:
                changed = await refresh_pending(app[HUB]) if ours else 0
        except Exception:
            log.exception("background invitation refresh failed; trying again next round")
        else:
            if changed:
                log.info("background invitation refresh: %d invitation(s) changed", changed)


async def _invitation_refresher(app: web.Application) -> AsyncIterator[None]:
    """Pending guest invitations are re-checked every few minutes (bounded rounds), from start
    to shutdown; nothing runs when the server has no Entra app registration."""
    task = None
    if app[HUB].graph.configured:
        task = asyncio.create_task(_refresh_invitations_forever(app), name="invitation-refresher")
    yield
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def build_worker(hub: Hub, config: WorkerConfig | None = None) -> DeliveryWorker:
    """The delivery worker, given what it needs from hub/ as plain values (connectors/ imports
    nothing of hub/): the blob store, the way to open a sealed secret, the mailer (the one
    mail transport, shared with notifications) and the retry horizon from the settings
    (``config`` tunes the rest)."""
    return DeliveryWorker(
        hub.sessions,
        hub.blobs,
        open_secret=hub.vault.open,
        mailer=hub.mailer,
        config=replace(config or WorkerConfig(), retry_horizon=hub.settings.retry_horizon_seconds),
        outbound=policy_for(hub.settings.demo, hub.settings.outbound_allow),
    )


async def _worker(app: web.Application, config: WorkerConfig | None) -> AsyncIterator[None]:
    hub = app[HUB]
    worker = build_worker(hub, config)
    worker.start()
    app[WORKER] = worker
    hub.deliveries_queued.connect(worker.wake)
    yield
    hub.deliveries_queued.disconnect(worker.wake)
    await worker.stop()


async def _database_problem(engine: AsyncEngine) -> str | None:
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as error:
        log.error("health check: the database does not answer: %s", error)
        return "the database does not answer"
    return None


async def _documents_problem(blobs: Blobs) -> str | None:
    try:
        await blobs.probe()
    except OSError as error:
        log.error("health check: documents cannot be written to %s: %s", blobs.describe(), error)
        return f"the document folder cannot be written ({error.strerror or type(error).__name__})"
    return None


async def healthz(request: web.Request) -> web.Response:
    """200 when the database answers and a file can be written where documents go; else 503
    naming what failed, so a load balancer stops sending uploads to a server that would lose
    them."""
    checks = {
        "database": await _database_problem(request.app[ENGINE]),
        "documents": await _documents_problem(request.app[HUB].blobs),
    }
    problems = [
        {"check": name, "detail": detail} for name, detail in checks.items() if detail is not None
    ]
    if problems:
        return web.json_response(
            {"status": "unavailable", "problems": problems},
            status=503,
            headers={"Retry-After": "30"},
        )
    return web.json_response({"status": "ok", "database": "ok"})


# A year, sub-domains included: once a browser has seen Relais over HTTPS it never tries plain
# HTTP again (nor lets a person click through a certificate warning).
HSTS = "max-age=31536000; includeSubDomains"


def security_headers(
    settings: Settings,
) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    """Headers every response carries, from any face: a signal rather than a middleware, since
    it also runs for static files, responses a handler streams itself and the router's 404s.
    No HSTS in demo mode, which serves plain HTTP on localhost (a browser would then refuse the
    plain-HTTP demo on that host for a year)."""

    async def add(request: web.Request, response: web.StreamResponse) -> None:
        # Browsers must not guess a type other than the one sent (a JSON or CSV answer run as a
        # script or a page).
        response.headers["X-Content-Type-Options"] = "nosniff"
        if not settings.demo:
            response.headers["Strict-Transport-Security"] = HSTS

    return add


async def index(request: web.Request) -> web.Response:
    raise web.HTTPFound("/admin/")


def build_app(
    settings: Settings,
    *,
    worker: bool = False,
    worker_config: WorkerConfig | None = None,
    now: Callable[[], datetime] | None = None,
) -> web.Application:
    """The whole service. ``worker`` also runs the delivery worker in this process (what
    ``relais serve`` does by default; ``worker_config`` tunes it); tests that do not send
    documents leave it off. ``now`` is the panel's clock (aware UTC; the real one by default),
    which its session timeouts read: tests move it instead of waiting."""
    # Sized for the panel's and the REST API's uploads; /api/messages reads its body itself, up
    # to a bound of its own (bot/endpoint.py, MAX_ACTIVITY_BYTES).
    app = web.Application(client_max_size=25 * 1024 * 1024)
    engine = create_engine(settings.database_url, busy_timeout=settings.database_busy_timeout)
    teams = bot.connect(settings)
    hub = build_services(settings, session_factory(engine), teams=teams.port)
    app[SETTINGS] = settings
    app[ENGINE] = engine
    app[SESSIONS] = hub.sessions
    app[HUB] = hub
    app.on_response_prepare.append(security_headers(settings))
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_invitation_refresher)
    if worker:
        app.cleanup_ctx.append(lambda app: _worker(app, worker_config))
    app.router.add_get("/", index)
    app.router.add_get("/healthz", healthz)
    bot.setup(app, hub, teams)
    app.add_subapp("/admin", admin.create_app(hub, now=now))
    app.add_subapp("/api/v1", api.create_app(hub))
    return app
