"""Jinja2 templates: one environment per app, one ``render`` every handler uses, and ``url``.

Every page extends ``layout.html``; the layout gets the translator (``t``, and ``tn`` for
plurals), the language, the signed-in person (or nobody), the navigation, the CSRF token and the
messages left by the previous change (:mod:`admin.flash`) without each handler passing them.

Links are built from route names, in templates and handlers alike: ``url("dossier_documents",
code="ABC", query={"folder": "Paie"})`` rather than a hand-written ``/admin/...`` path, so a
route can move without hunting its links.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from aiohttp_session import get_session
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from admin.flash import messages
from admin.keys import ACTOR, TEMPLATES, TRANSLATOR
from admin.security import CSRF_FIELD, csrf_token
from hub.i18n import LANGUAGES


@dataclass(frozen=True)
class NavItem:
    name: str  # route name, and the locale key prefix: nav.<name>
    path: str  # the section's path, where pages.setup registers it when no area serves it yet


NAV = (
    NavItem("applications", "/admin/applications"),
    NavItem("portfolio", "/admin/portfolio"),
    NavItem("dossiers", "/admin/dossiers"),
    NavItem("contacts", "/admin/contacts"),
    NavItem("team", "/admin/team"),
    NavItem("dashboard", "/admin/dashboard"),
    NavItem("audit", "/admin/audit"),
)


def url(
    request: web.Request,
    name: str,
    *,
    query: Mapping[str, Any] | None = None,
    fragment: str = "",
    **parts: Any,
) -> str:
    """The path of the panel's route ``name`` with its ``parts`` (``{code}``…), an optional query
    (``None`` values left out) and fragment."""
    path = str(request.app.router[name].url_for(**{k: str(v) for k, v in parts.items()}))
    # urlencode, as the panel always wrote its links: a "/" in a value is %2F, a space is "+".
    wanted = urlencode({k: v for k, v in (query or {}).items() if v is not None})
    return path + (f"?{wanted}" if wanted else "") + (f"#{fragment}" if fragment else "")


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
        "tn": translator.plural,
        "url": partial(url, request),
        "flashes": await messages(request),
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
