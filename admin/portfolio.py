"""Portfolio, Dossiers and Contacts: lists, the per-dossier applications dialog, propose a service.

Each handler reads the request, calls one use-case of :mod:`hub.portfolio`,
:mod:`hub.contacts` or :mod:`hub.offers`, and renders or redirects; rights and firm scoping live
there. The applications dialog is a page of its own (so everything works without JavaScript) that
``portfolio.js`` also opens as a modal by asking for its ``partial=1`` fragment. Saving it is
"propose a service": offers go to the contacts in Teams through :func:`hub.offers.deliver_offers`,
exactly as from the bot, and the page says which were sent and which stay pending, and why.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from admin.flash import flash
from admin.keys import ACTOR, HUB, TRANSLATOR
from admin.render import render, url
from admin.security import safe_next
from hub import contacts, offers, portfolio
from hub.errors import InvalidInput
from hub.i18n import Translator
from hub.offers import SaveResult, Undelivered
from hub.paging import Page, page_number, search_term
from hub.portfolio import ApplicationsDialog

routes = web.RouteTableDef()


# --------------------------------------------------------------------------- helpers


def _search(request: web.Request) -> tuple[str, str | None, str]:
    """(what was typed, the term to search or None, the message when it is too short)."""
    raw = request.query.get("q", "")
    try:
        return raw, search_term(raw), ""
    except InvalidInput as exc:
        return raw, None, request[TRANSLATOR](exc.key, **exc.params)


def _contact_id(request: web.Request) -> int:
    return int(request.match_info["contact_id"])  # the route only matches digits


def _ints(values: list[str], field: str) -> list[int]:
    try:
        return [int(v) for v in values]
    except ValueError:
        raise InvalidInput(f"{field} must be ids", field=field) from None


def _choices(form: MultiDictProxy[Any]) -> dict[int, list[int]]:
    """The form's switched-on applications, each with the contacts ticked under it."""
    apps = _ints([str(v) for v in form.getall("app", [])], "app")
    return {
        app_id: _ints([str(v) for v in form.getall(f"contacts-{app_id}", [])], "contacts")
        for app_id in apps
    }


def _with_choices(
    dialog: ApplicationsDialog, choices: Mapping[int, list[int]]
) -> ApplicationsDialog:
    """The dialog as the person left it, to show again with the message that stopped it."""
    apps = tuple(
        dataclasses.replace(
            app,
            on=app.id in choices,
            contacts=tuple(
                dataclasses.replace(c, chosen=c.id in choices.get(app.id, ())) for c in app.contacts
            ),
        )
        for app in dialog.applications
    )
    return dataclasses.replace(dialog, applications=apps)


def _saved_message(
    t: Translator, result: SaveResult, undelivered: tuple[Undelivered, ...], code: str
) -> str:
    """What the save did, then which offers reached their contact in Teams and which stay
    pending, with why."""
    if not result.changed:
        return t("portfolio.saved_nothing", dossier=code)
    parts = [t("portfolio.saved", dossier=code)]
    pending = {u.offer.access_id for u in undelivered}
    sent = [o for o in result.offered if o.access_id not in pending]
    if sent:
        offers_text = ", ".join(
            t("portfolio.offer_to", application=o.application, contact=o.contact_name) for o in sent
        )
        parts.append(t("portfolio.offers_sent", offers=offers_text))
    if undelivered:
        offers_text = "; ".join(
            t(
                "portfolio.offer_pending",
                application=u.offer.application,
                contact=u.offer.contact_name,
                reason=t(u.key, **{"contact": u.offer.contact_name, **u.params}),
            )
            for u in undelivered
        )
        parts.append(t("portfolio.offers_pending", offers=offers_text))
    return " ".join(parts)


def _dialog_url(request: web.Request) -> Callable[..., str]:
    """``dialog_url(code, back, contact_id=None)`` for the templates: a dossier's dialog."""

    def dialog_url(code: str, back: str, contact_id: int | None = None) -> str:
        query = {"next": back, "contact": contact_id}
        return url(request, "dossier_applications", code=code, query=query)

    return dialog_url


# --------------------------------------------------------------------------- lists


@routes.get("/portfolio", name="portfolio")
async def portfolio_page(request: web.Request) -> web.Response:
    raw, term, problem = _search(request)
    view = await portfolio.list_portfolio(
        request.config_dict[HUB],
        request[ACTOR],
        scope=request.query.get("scope", "mine"),
        term=term,
        page=page_number(request.query.get("page")),
    )
    return await render(
        request,
        "portfolio.html",
        {
            "view": view,
            "page": view.page,
            "q": raw,
            "searched": term,
            "search_problem": problem,
            "dialog_url": _dialog_url(request),
            "list_query": {"scope": view.scope, "q": raw},
        },
    )


async def _search_list(
    request: web.Request,
    template: str,
    lister: Callable[..., Awaitable[Page[Any]]],
    *,
    with_dialog: bool,
) -> web.Response:
    """A searchable list of the firm's dossiers or contacts; ``with_dialog`` adds the last
    change's notice and the applications dialog's links."""
    raw, term, problem = _search(request)
    page = await lister(
        request.config_dict[HUB],
        request[ACTOR],
        term=term,
        page=page_number(request.query.get("page")),
    )
    context: dict[str, Any] = {"page": page, "q": raw, "searched": term, "search_problem": problem}
    if with_dialog:
        context |= {"dialog_url": _dialog_url(request)}
    return await render(request, template, {**context, "list_query": {"q": raw}})


@routes.get("/dossiers", name="dossiers")
async def dossiers_page(request: web.Request) -> web.Response:
    return await _search_list(request, "dossiers.html", portfolio.list_dossiers, with_dialog=True)


@routes.get("/contacts", name="contacts")
async def contacts_page(request: web.Request) -> web.Response:
    return await _search_list(request, "contacts.html", contacts.list_contacts, with_dialog=False)


# --------------------------------------------------------------------------- a contact


async def render_contact(
    request: web.Request,
    contact_id: int,
    *,
    problem: Mapping[str, Any] | None = None,
    status: int = 200,
) -> web.Response:
    """A contact's General tab, with their invitation; ``problem`` is what stopped an action."""
    hub, actor = request.config_dict[HUB], request[ACTOR]
    contact = await contacts.contact_card(hub, actor, contact_id)
    return await render(
        request,
        "contacts_detail.html",
        {
            "contact": contact,
            "tab": "general",
            "invitation": await contacts.contact_invitation(hub, actor, contact_id),
            "problem": problem,
        },
        status=status,
    )


@routes.get(r"/contacts/{contact_id:\d+}", name="contact")
async def contact_page(request: web.Request) -> web.Response:
    return await render_contact(request, _contact_id(request))


@routes.get(r"/contacts/{contact_id:\d+}/dossiers", name="contact_dossiers")
async def contact_dossiers_page(request: web.Request) -> web.Response:
    hub, actor, contact_id = request.config_dict[HUB], request[ACTOR], _contact_id(request)
    contact = await contacts.contact_card(hub, actor, contact_id)
    linked = await contacts.contact_dossiers(
        hub, actor, contact_id, page=page_number(request.query.get("page"))
    )
    raw, term, problem = _search(request)
    found = None
    if term:
        found = await contacts.dossiers_to_link(
            hub, actor, contact_id, term, page=page_number(request.query.get("found_page"))
        )
    return await render(
        request,
        "contacts_detail.html",
        {
            "contact": contact,
            "tab": "dossiers",
            "linked": linked,
            "found": found,
            "q": raw,
            "searched": term,
            "search_problem": problem,
            "dialog_url": _dialog_url(request),
            "invitation": await contacts.contact_invitation(hub, actor, contact_id),
            "problem": None,
        },
    )


@routes.post(r"/contacts/{contact_id:\d+}/dossiers", name="contact_link")
async def contact_link(request: web.Request) -> web.Response:
    contact_id = _contact_id(request)
    form = await request.post()
    code = str(form.get("code", "")).strip()
    await contacts.link_dossier(request.config_dict[HUB], request[ACTOR], contact_id, code)
    await flash(request, "ok", "contacts.linked", dossier=code)
    raise web.HTTPFound(url(request, "contact_dossiers", contact_id=contact_id))


@routes.post(r"/contacts/{contact_id:\d+}/dossiers/{code}/unlink", name="contact_unlink")
async def contact_unlink(request: web.Request) -> web.Response:
    contact_id, code = _contact_id(request), request.match_info["code"]
    revoked = await contacts.unlink_dossier(
        request.config_dict[HUB], request[ACTOR], contact_id, code
    )
    await flash(request, "ok", "contacts.unlinked", dossier=code, revoked=revoked)
    raise web.HTTPFound(url(request, "contact_dossiers", contact_id=contact_id))


# --------------------------------------------------------------------------- the dialog


def _preselected(request: web.Request, form: Mapping[str, Any] | None = None) -> int | None:
    raw = (form or {}).get("contact") or request.query.get("contact")
    if not raw:
        return None
    try:
        return int(str(raw))
    except ValueError:
        raise web.HTTPNotFound() from None


async def _render_dialog(
    request: web.Request,
    dialog: ApplicationsDialog,
    back: str,
    *,
    error: str = "",
    error_field: str = "",
    status: int = 200,
) -> web.Response:
    partial = request.query.get("partial") == "1"
    return await render(
        request,
        "dossiers_applications_form.html" if partial else "dossiers_applications.html",
        {
            "dialog": dialog,
            "back": back,
            "error": error,
            "error_field": error_field,
            "partial": partial,
        },
        status=status,
    )


@routes.get("/dossiers/{code}/applications", name="dossier_applications")
async def dossier_applications(request: web.Request) -> web.Response:
    dialog = await portfolio.applications_dialog(
        request.config_dict[HUB],
        request[ACTOR],
        request.match_info["code"],
        contact_id=_preselected(request),
    )
    return await _render_dialog(
        request, dialog, safe_next(request.query.get("next"), url(request, "portfolio"))
    )


@routes.post("/dossiers/{code}/applications", name="dossier_applications_save")
async def dossier_applications_save(request: web.Request) -> web.Response:
    hub, actor, code = request.config_dict[HUB], request[ACTOR], request.match_info["code"]
    form = await request.post()
    back = safe_next(str(form.get("next", "")) or None, url(request, "portfolio"))
    choices = _choices(form)
    try:
        result = await offers.save_applications(hub, actor, code, choices)
    except InvalidInput as exc:
        t = request[TRANSLATOR]
        params = dict(exc.params)
        if "reason_key" in params:
            params["reason"] = t(params.pop("reason_key"))
        dialog = await portfolio.applications_dialog(
            hub, actor, code, contact_id=_preselected(request, form)
        )
        return await _render_dialog(
            request,
            _with_choices(dialog, choices),
            back,
            error=t(exc.key, **params),
            error_field=exc.field or "",
            status=400,
        )
    undelivered = await offers.deliver_offers(hub, actor, result.offered)
    text = _saved_message(request[TRANSLATOR], result, undelivered, code)
    # An offer left pending is a warning, not a success (the change itself was saved).
    await flash(request, "warning" if undelivered else "ok", "portfolio.notice", text=text)
    raise web.HTTPFound(back)


def setup(app: web.Application) -> None:
    """Register this area's routes (named after the navigation item for its main page)."""
    app.router.add_routes(routes)
