"""Jinja2 templates: one environment per app, one ``render`` every handler uses.

Every page extends ``layout.html``; the layout gets the translator, the language, the signed-in
person (or nobody), the navigation and the CSRF token without each handler passing them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp_session import get_session
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from admin.keys import ACTOR, TEMPLATES, TRANSLATOR
from admin.security import CSRF_FIELD, csrf_token
from hub.i18n import LANGUAGES


@dataclass(frozen=True)
class NavItem:
    name: str  # route name, and the locale key prefix: nav.<name>
    path: str


NAV = (
    NavItem("applications", "/admin/applications"),
    NavItem("portfolio", "/admin/portfolio"),
    NavItem("dossiers", "/admin/dossiers"),
    NavItem("contacts", "/admin/contacts"),
    NavItem("team", "/admin/team"),
    NavItem("dashboard", "/admin/dashboard"),
    NavItem("audit", "/admin/audit"),
)


def environment() -> Environment:
    return Environment(
        loader=PackageLoader("admin", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


async def render(
    request: web.Request, template: str, context: dict[str, Any] | None = None, *, status: int = 200
) -> web.Response:
    session = await get_session(request)
    translator = request[TRANSLATOR]
    actor = request.get(ACTOR)
    current = request.path
    values: dict[str, Any] = {
        "t": translator,
        "lang": translator.lang,
        "languages": LANGUAGES,
        "actor": actor,
        "nav": NAV if actor is not None else (),
        "current": current,
        "here": request.path_qs,
        "csrf_field": CSRF_FIELD,
        "csrf_token": csrf_token(session),
    }
    values.update(context or {})
    html = request.config_dict[TEMPLATES].get_template(template).render(values)
    response = web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    return response
