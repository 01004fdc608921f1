"""The web admin panel: an aiohttp sub-application mounted at ``/admin`` by :mod:`relais.app`.

Server-rendered pages (jinja2, one layout), sign-in with Microsoft Entra (a local "sign in as"
in demo mode only), an encrypted session cookie backed by a session on the server (revoked at
sign-out, ended when idle or too old: :mod:`hub.team.panel_sessions`), CSRF on every form, and
one middleware that turns every error into a page. The panel reads and changes data only through ``hub/``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from aiohttp import web
from aiohttp_session import session_middleware

from admin import (
    applications,
    audit,
    auth,
    connections,
    dashboard,
    documents,
    pages,
    portfolio,
    team,
    tenant,
)
from admin.entra import EntraSignIn
from admin.keys import CLOCK, ENTRA, HUB, TEMPLATES
from admin.middlewares import csrf, errors, plain_text, signed_in
from admin.render import environment
from admin.security import cookie_storage
from hub.services import Hub

__all__ = ["create_app"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(hub: Hub, *, now: Callable[[], datetime] | None = None) -> web.Application:
    """The panel on ``hub``'s services; ``now`` is its clock (tests pass one they can move)."""
    settings = hub.settings
    app = web.Application(
        middlewares=[
            session_middleware(cookie_storage(settings)),
            errors,
            csrf,
            signed_in,
            plain_text,
        ]
    )
    app[HUB] = hub
    app[CLOCK] = now or _utc_now
    app[TEMPLATES] = environment()
    app[ENTRA] = EntraSignIn(settings)
    auth.setup(app, settings)
    for area in (applications, connections, portfolio, documents, team, tenant, dashboard, audit):
        area.setup(app)
    pages.setup(app)  # after the areas: it fills in the sections they do not serve yet
    static = Path(str(resources.files("admin").joinpath("static")))
    app.router.add_static("/static", static, name="static")
    return app
