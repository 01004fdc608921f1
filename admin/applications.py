"""The Applications tab: the firm's applications, the 3-step add wizard, edit and delete.

Thin on purpose: each handler reads the request, calls one use-case of :mod:`hub.applications`
and renders or redirects. Rights, firm scoping and validation live there; a refused action
raises and the error middleware shows the page, a form error re-renders the form.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from admin.flash import flash
from admin.keys import ACTOR, HUB, TRANSLATOR
from admin.render import render, url
from hub import applications as apps
from hub.applications import KINDS, Choices, Definition
from hub.errors import InvalidInput
from hub.identity import Actor
from hub.paging import page_number, search_term
from hub.services import Hub

routes = web.RouteTableDef()


def _hub(request: web.Request) -> Hub:
    return request.config_dict[HUB]


def _actor(request: web.Request) -> Actor:
    return request[ACTOR]


def _id(request: web.Request, name: str) -> int:
    try:
        return int(request.match_info[name])
    except ValueError as error:
        raise web.HTTPNotFound() from error


async def _page(
    request: web.Request, template: str, context: dict[str, Any], *, status: int = 200
) -> web.Response:
    context.setdefault("kinds", KINDS)
    return await render(request, template, context, status=status)


def _definition(form: Mapping[str, Any], slug: str) -> Definition:
    def value(name: str) -> str:
        raw = form.get(name, "")
        return raw if isinstance(raw, str) else ""

    return Definition(
        app=slug,
        api_key_id=value("api_key_id"),
        secret=value("secret"),
        api_url=value("api_url"),
        fields={k.removeprefix("field."): value(k) for k in form if k.startswith("field.")},
        sic_code=value("sic_code"),
        is_default=value("is_default") == "1",
        partner_email=value("partner_email"),
    )


def _problems(error: InvalidInput) -> dict[str, str]:
    problems = error.params.get("problems")
    if isinstance(problems, dict):
        return {str(k): str(v) for k, v in problems.items()}
    return {error.field or "form": error.key}


def _pick(
    query: Mapping[str, str], choices: Choices, kind: str = "", slug: str = ""
) -> tuple[str, apps.CatalogEntry | None]:
    """The kind and application chosen in step 1's pickers (the query wins over the draft)."""
    kind = query.get("kind", kind)
    slug = query.get("app", slug)
    entry = choices.find(slug)
    if kind not in KINDS:
        kind = entry.kind if entry else ""
    if entry is not None and entry.kind != kind:
        entry = None
    return kind, entry


# --------------------------------------------------------------------------- the list


@routes.get("/applications", name="applications")
async def index(request: web.Request) -> web.Response:
    view = await apps.overview(_hub(request), _actor(request))
    return await _page(request, "applications.html", {"view": view})


# --------------------------------------------------------------------------- added at once


@routes.post("/applications/add", name="applications_add_now")
async def add_now(request: web.Request) -> web.Response:
    """A collection-email application, added in one step: from its card on the list, or from
    step 1 when it asks for something (the partner's email)."""
    hub, actor = _hub(request), _actor(request)
    form = await request.post()
    slug = str(form.get("app", ""))
    choices = await apps.choices(hub, actor)
    kind, entry = _pick({}, choices, str(form.get("kind", "")), slug)
    if entry is None or not entry.added_at_once:
        raise web.HTTPSeeOther(url(request, "applications_new", query={"kind": kind, "app": slug}))
    try:
        added = await apps.add_application(hub, actor, _definition(form, slug))
    except InvalidInput as error:
        if "kind" not in form:  # from the card: the form asks what is missing, no error yet
            query = {"kind": entry.kind, "app": slug}
            raise web.HTTPSeeOther(url(request, "applications_new", query=query)) from error
        return await _definition_page(
            request,
            choices,
            kind=kind,
            entry=entry,
            definition=_definition(form, slug),
            errors=_problems(error),
        )
    draft = str(form.get("draft", ""))
    if draft.isdigit():  # step 1 of a draft turned into this application: the draft is done
        await apps.cancel_draft(hub, actor, int(draft))
    await flash(request, "ok", "applications.flash.added_now", label=added.label)
    raise web.HTTPSeeOther(url(request, "applications"))


# --------------------------------------------------------------------------- step 1


async def _definition_page(
    request: web.Request,
    choices: Choices,
    *,
    kind: str,
    entry: apps.CatalogEntry | None,
    definition: Definition,
    draft: apps.DraftView | None = None,
    errors: Mapping[str, str] | None = None,
) -> web.Response:
    has_secret = draft is not None and entry is not None and draft.entry.slug == entry.slug
    return await _page(
        request,
        "applications_definition.html",
        {
            "choices": choices,
            "kind": kind,
            "entry": entry,
            "definition": definition,
            "draft": draft,
            "has_secret": has_secret and draft is not None and draft.has_secret,
            "errors": errors or {},
            "action": request.path,
            "step": 1,
            "skips_dossiers": entry is not None and not entry.takes_dossiers,
        },
        status=400 if errors else 200,
    )


@routes.get("/applications/new", name="applications_new")
async def new(request: web.Request) -> web.Response:
    choices = await apps.choices(_hub(request), _actor(request))
    kind, entry = _pick(request.query, choices)
    return await _definition_page(
        request, choices, kind=kind, entry=entry, definition=Definition(app="")
    )


@routes.post("/applications/new", name="applications_create")
async def create(request: web.Request) -> web.Response:
    form = await request.post()
    slug = str(form.get("app", ""))
    definition = _definition(form, slug)
    try:
        draft_id = await apps.save_draft(_hub(request), _actor(request), definition)
    except InvalidInput as error:
        choices = await apps.choices(_hub(request), _actor(request))
        kind, entry = _pick({}, choices, str(form.get("kind", "")), slug)
        return await _definition_page(
            request,
            choices,
            kind=kind,
            entry=entry,
            definition=definition,
            errors=_problems(error),
        )
    raise web.HTTPSeeOther(url(request, "applications_draft_dossiers", draft=draft_id))


@routes.get("/applications/new/{draft}/definition", name="applications_draft_definition")
async def draft_definition(request: web.Request) -> web.Response:
    hub, actor = _hub(request), _actor(request)
    draft = await apps.get_draft(hub, actor, _id(request, "draft"))
    choices = await apps.choices(hub, actor)
    kind, entry = _pick(request.query, choices, draft.entry.kind, draft.entry.slug)
    same = entry is not None and entry.slug == draft.entry.slug
    return await _definition_page(
        request,
        choices,
        kind=kind,
        entry=entry,
        definition=draft.definition if same else Definition(app=""),
        draft=draft,
    )


@routes.post("/applications/new/{draft}/definition", name="applications_draft_definition_save")
async def save_definition(request: web.Request) -> web.Response:
    hub, actor = _hub(request), _actor(request)
    draft_id = _id(request, "draft")
    form = await request.post()
    slug = str(form.get("app", ""))
    definition = _definition(form, slug)
    try:
        await apps.save_draft(hub, actor, definition, draft_id)
    except InvalidInput as error:
        draft = await apps.get_draft(hub, actor, draft_id)
        choices = await apps.choices(hub, actor)
        kind, entry = _pick({}, choices, str(form.get("kind", "")), slug)
        return await _definition_page(
            request,
            choices,
            kind=kind,
            entry=entry,
            definition=definition,
            draft=draft,
            errors=_problems(error),
        )
    raise web.HTTPSeeOther(url(request, "applications_draft_dossiers", draft=draft_id))


# --------------------------------------------------------------------------- step 2


def _ids(form: MultiDictProxy[Any], name: str) -> list[int]:
    values: list[int] = []
    for raw in form.getall(name, []):
        for part in str(raw).split(","):
            if part.strip().isdigit():
                values.append(int(part))
    return values


def _view_url(request: web.Request, draft_id: int, query: str | None, page: int) -> str:
    wanted = {"q": query or None, "page": page if page != 1 else None}
    return url(request, "applications_draft_dossiers", draft=draft_id, query=wanted)


@routes.get("/applications/new/{draft}/dossiers", name="applications_draft_dossiers")
async def dossiers(request: web.Request) -> web.Response:
    hub, actor = _hub(request), _actor(request)
    draft_id = _id(request, "draft")
    search_error = ""
    raw = request.query.get("q", "")
    try:
        query = search_term(raw)
    except InvalidInput as error:
        query, search_error = None, request[TRANSLATOR](error.key, **error.params)
    picker = await apps.browse_dossiers(
        hub, actor, draft_id, query, page_number(request.query.get("page"))
    )
    if not picker.draft.entry.takes_dossiers:
        raise web.HTTPSeeOther(url(request, "applications_draft_summary", draft=draft_id))
    return await _page(
        request,
        "applications_dossiers.html",
        {
            "picker": picker,
            "draft": picker.draft,
            "entry": picker.draft.entry,
            "raw_query": raw,
            "search_error": search_error,
            "step": 2,
            "skips_dossiers": False,
        },
        status=400 if search_error else 200,
    )


async def _tick(request: web.Request, form: MultiDictProxy[Any]) -> int:
    shown = _ids(form, "shown")
    ticked = shown if form.get("page_all") == "1" else _ids(form, "pick")
    return await apps.tick_dossiers(
        _hub(request), _actor(request), _id(request, "draft"), shown, ticked
    )


@routes.post("/applications/new/{draft}/dossiers", name="applications_draft_dossiers_save")
async def dossiers_submit(request: web.Request) -> web.Response:
    hub, actor = _hub(request), _actor(request)
    draft_id = _id(request, "draft")
    form = await request.post()
    try:
        query = search_term(str(form.get("q", "")))
    except InvalidInput:
        query = None
    page = page_number(str(form.get("page", "1")))
    action = str(form.get("action", ""))
    await _tick(request, form)
    if action == "all":
        await apps.select_all(hub, actor, draft_id, query)
    elif action == "clear":
        await apps.clear_selection(hub, actor, draft_id)
    elif action == "back":
        raise web.HTTPSeeOther(url(request, "applications_draft_definition", draft=draft_id))
    elif action == "next":
        raise web.HTTPSeeOther(url(request, "applications_draft_summary", draft=draft_id))
    elif action.startswith("page:"):
        page = page_number(action.removeprefix("page:"))
    raise web.HTTPSeeOther(_view_url(request, draft_id, query, page))


@routes.post("/applications/new/{draft}/selection", name="applications_draft_selection")
async def selection(request: web.Request) -> web.Response:
    """The picker's script saves each tick at once, so the count is always the server's."""
    count = await _tick(request, await request.post())
    text = request[TRANSLATOR].plural("applications.picker.selected", count)
    return web.json_response({"count": count, "text": text})


# --------------------------------------------------------------------------- step 3


@routes.get("/applications/new/{draft}/summary", name="applications_draft_summary")
async def summary(request: web.Request) -> web.Response:
    result = await apps.draft_summary(
        _hub(request),
        _actor(request),
        _id(request, "draft"),
        page_number(request.query.get("page")),
    )
    return await _page(
        request,
        "applications_summary.html",
        {
            "summary": result,
            "draft": result.draft,
            "entry": result.draft.entry,
            "step": 3,
            "skips_dossiers": not result.draft.entry.takes_dossiers,
        },
    )


@routes.post("/applications/new/{draft}/validate", name="applications_draft_validate")
async def validate(request: web.Request) -> web.Response:
    added = await apps.validate_draft(_hub(request), _actor(request), _id(request, "draft"))
    await flash(request, "ok", "applications.flash.added", label=added.label, count=added.dossiers)
    raise web.HTTPSeeOther(url(request, "applications"))


@routes.post("/applications/new/{draft}/cancel", name="applications_draft_cancel")
async def cancel(request: web.Request) -> web.Response:
    await apps.cancel_draft(_hub(request), _actor(request), _id(request, "draft"))
    raise web.HTTPSeeOther(url(request, "applications"))


# --------------------------------------------------------------------------- edit and delete


@routes.get("/applications/{app}/edit", name="applications_edit")
async def edit(request: web.Request) -> web.Response:
    view = await apps.application_for_edit(_hub(request), _actor(request), _id(request, "app"))
    return await _edit_page(request, view, view.definition)


async def _edit_page(
    request: web.Request,
    view: apps.EditView,
    definition: Definition,
    errors: Mapping[str, str] | None = None,
) -> web.Response:
    return await _page(
        request,
        "applications_edit.html",
        {
            "view": view,
            "entry": view.entry,
            "definition": definition,
            "has_secret": view.has_secret,
            "sic_codes": view.sic_codes,
            "errors": errors or {},
        },
        status=400 if errors else 200,
    )


@routes.post("/applications/{app}/edit", name="applications_update")
async def edit_submit(request: web.Request) -> web.Response:
    hub, actor = _hub(request), _actor(request)
    app_id = _id(request, "app")
    form = await request.post()
    # The application itself cannot change on edit; only its settings.
    definition = _definition(form, "")
    try:
        await apps.update_application(hub, actor, app_id, definition)
    except InvalidInput as error:
        view = await apps.application_for_edit(hub, actor, app_id)
        return await _edit_page(request, view, definition, _problems(error))
    view = await apps.application_for_edit(hub, actor, app_id)
    await flash(request, "ok", "applications.flash.updated", label=view.entry.label)
    raise web.HTTPSeeOther(url(request, "applications"))


@routes.get("/applications/{app}/delete", name="applications_delete")
async def confirm_delete(request: web.Request) -> web.Response:
    preview = await apps.deletion_preview(_hub(request), _actor(request), _id(request, "app"))
    return await _page(request, "applications_delete.html", {"preview": preview})


@routes.post("/applications/{app}/delete", name="applications_remove")
async def delete(request: web.Request) -> web.Response:
    done = await apps.delete_application(_hub(request), _actor(request), _id(request, "app"))
    more: list[tuple[str, dict[str, Any]]] = []
    if done.kind == "platform":
        more.append(("applications.flash.revoked", {"count": done.revoked}))
        if done.mails_sent:
            more.append(("applications.flash.mailed", {"count": done.mails_sent}))
    elif done.connections:
        more.append(("applications.flash.disconnected", {"count": done.connections}))
    await flash(request, "ok", "applications.flash.deleted", *more, label=done.label)
    if done.mail_failures:
        addresses = ", ".join(done.mail_failures)
        await flash(request, "warning", "applications.flash.mail_failed", addresses=addresses)
    raise web.HTTPSeeOther(url(request, "applications"))


def setup(app: web.Application) -> None:
    """Register this area's routes (named after the navigation item for its main page)."""
    app.router.add_routes(routes)
