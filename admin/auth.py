"""Signing in and out, and the language switch.

``GET /login`` shows the choices (Microsoft; in demo mode, the demo staff), ``GET /login/microsoft``
starts the Entra flow, ``GET /auth/callback`` finishes it, ``POST /login/demo`` signs in as a
demo person (demo mode only), ``POST /logout`` ends the session (on the server too). Both ways
of signing in open the session through :func:`admin.security.start_session`.
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp_session import get_session

from admin.flash import flash
from admin.keys import ACTOR, ENTRA, HUB
from admin.render import render, url
from admin.security import end_session, safe_next, start_session
from hub.i18n import LANGUAGES
from hub.settings import DEMO_TENANT_ID, Settings
from hub.team import demo_choices, sign_in, sign_out

log = logging.getLogger(__name__)

routes = web.RouteTableDef()


@routes.get("/login", name="login")
async def login(request: web.Request) -> web.Response:
    next_path = safe_next(request.query.get("next"))
    if ACTOR in request:
        raise web.HTTPFound(next_path)
    settings = request.config_dict[HUB].settings
    choices = await demo_choices(request.config_dict[HUB].sessions) if settings.demo else []
    return await render(
        request,
        "login.html",
        {
            "next": next_path,
            "demo": settings.demo,
            "choices": choices,
            "entra_configured": request.app[ENTRA].configured,
        },
    )


@routes.get("/login/microsoft", name="login_microsoft")
async def login_microsoft(request: web.Request) -> web.Response:
    auth_uri, flow = await request.app[ENTRA].start()
    session = await get_session(request)
    session["flow"] = flow
    session["next"] = safe_next(request.query.get("next"))
    raise web.HTTPFound(auth_uri)


@routes.get("/auth/callback", name="auth_callback")
async def auth_callback(request: web.Request) -> web.Response:
    session = await get_session(request)
    flow = session.pop("flow", None)
    next_path = safe_next(session.pop("next", None))
    tenant_id, object_id = await request.app[ENTRA].finish(flow, dict(request.query))
    actor = await sign_in(request.config_dict[HUB].sessions, tenant_id, object_id, "entra")
    await start_session(request, actor)
    raise web.HTTPFound(next_path)


async def login_demo(request: web.Request) -> web.Response:
    """Registered in demo mode only (see :func:`setup`): otherwise the route does not exist."""
    form = await request.post()
    object_id = form.get("object_id")
    actor = await sign_in(
        request.config_dict[HUB].sessions,
        DEMO_TENANT_ID,
        object_id if isinstance(object_id, str) else None,
        "demo",
    )
    await start_session(request, actor)
    next_value = form.get("next")
    raise web.HTTPFound(safe_next(next_value if isinstance(next_value, str) else None))


def setup(app: web.Application, settings: Settings) -> None:
    app.router.add_routes(routes)
    if settings.demo:
        app.router.add_post("/login/demo", login_demo, name="login_demo")


@routes.post("/logout", name="logout")
async def logout(request: web.Request) -> web.Response:
    if ACTOR in request:
        await sign_out(request.config_dict[HUB].sessions, request[ACTOR])
    # Revoked on the server too: a copy of the cookie taken before now no longer signs anyone in.
    await end_session(request)
    await flash(request, "ok", "login.signed_out")
    raise web.HTTPFound(url(request, "login"))


@routes.post("/language", name="language")
async def language(request: web.Request) -> web.Response:
    form = await request.post()
    lang = form.get("lang")
    if lang in LANGUAGES:
        session = await get_session(request)
        session["lang"] = lang
    next_value = form.get("next")
    raise web.HTTPFound(
        safe_next(next_value if isinstance(next_value, str) else None, default=url(request, "home"))
    )
