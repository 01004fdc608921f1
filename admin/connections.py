"""Connecting dossiers to an automation application (the connect wizard) and the firm's folder tree.

Thin on purpose: each handler reads the request, calls one use-case of :mod:`hub.folders` or
:mod:`hub.connections`, and renders or redirects. Rights, firm scoping and validation live
there. A refused action raises and the error middleware shows its page; a wrong form or file is
shown again with its messages beside the fields.

``/folders``: the tree (administrators edit, staff read). ``/applications/{id}/connect``: step 1,
the folder; ``.../connect/dossiers``: step 2, the template file import and the one-by-one list.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiohttp import web
from multidict import MultiDictProxy

from admin.flash import flash
from admin.keys import ACTOR, HUB, TRANSLATOR
from admin.render import render, url
from hub import connections as conn
from hub import folders as tree
from hub.errors import Conflict, ImportRejected, InvalidInput
from hub.i18n import Translator
from hub.identity import Actor
from hub.paging import page_number, search_term
from hub.services import Hub

routes = web.RouteTableDef()
# Outcomes listed one by one after an import; beyond, a count says how many more.
LISTED = 200


def _hub(request: web.Request) -> Hub:
    return request.config_dict[HUB]


def _actor(request: web.Request) -> Actor:
    return request[ACTOR]


def _int(raw: object) -> int | None:
    text = str(raw or "").strip()
    return int(text) if text.isdigit() else None


def _id(request: web.Request, name: str) -> int:
    value = _int(request.match_info[name])
    if value is None:
        raise web.HTTPNotFound()
    return value


def _text(form: MultiDictProxy[Any], name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


async def _page(
    request: web.Request, template: str, context: dict[str, Any], *, status: int = 200
) -> web.Response:
    # These pages belong to the Applications section: keep it highlighted in the navigation.
    context.setdefault("current", url(request, "applications"))
    return await render(request, template, context, status=status)


# --------------------------------------------------------------------------- the folder tree


async def _folders_page(
    request: web.Request,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
    refusal: str = "",
) -> web.Response:
    view = await tree.folder_tree(_hub(request), _actor(request))
    query = request.query
    return await _page(
        request,
        "folders.html",
        {
            "tree": view,
            "flat": view.flat(),
            "errors": errors or {},
            "form": form or {},
            "rename_id": _int((form or {}).get("rename_id")) or _int(query.get("rename")),
            "parent_id": _int((form or {}).get("parent")) or _int(query.get("parent")),
            "refusal": refusal,
            "max_name": tree.MAX_NAME,
        },
        status=status,
    )


@routes.get("/folders", name="folders")
async def folders(request: web.Request) -> web.Response:
    return await _folders_page(request)


@routes.post("/folders", name="folder_add")
async def folder_add(request: web.Request) -> web.Response:
    form = await request.post()
    name, parent = _text(form, "name"), _int(form.get("parent"))
    try:
        node = await tree.add_folder(_hub(request), _actor(request), name, parent)
    except InvalidInput as error:
        message = request[TRANSLATOR](error.key, **error.params)
        return await _folders_page(
            request, status=400, errors={"add": message}, form={"name": name, "parent": parent}
        )
    await flash(request, "ok", "folders.flash.added", path=node.path)
    raise web.HTTPSeeOther(url(request, "folders", fragment=f"folder-{node.id}"))


@routes.post(r"/folders/{folder:\d+}/rename", name="folder_rename")
async def folder_rename(request: web.Request) -> web.Response:
    folder_id = _id(request, "folder")
    form = await request.post()
    name = _text(form, "name")
    try:
        done = await tree.rename_folder(_hub(request), _actor(request), folder_id, name)
    except InvalidInput as error:
        message = request[TRANSLATOR](error.key, **error.params)
        return await _folders_page(
            request,
            status=400,
            errors={"rename": message},
            form={"rename_id": folder_id, "rename_name": name},
        )
    if done.old_path != done.new_path:
        await flash(
            request,
            "ok",
            "folders.flash.renamed",
            old=done.old_path,
            path=done.new_path,
            count=done.subfolders,
        )
    raise web.HTTPSeeOther(url(request, "folders", fragment=f"folder-{folder_id}"))


@routes.get(r"/folders/{folder:\d+}/delete", name="folder_delete")
async def folder_delete_confirm(request: web.Request) -> web.Response:
    usage = await tree.deletion_check(_hub(request), _actor(request), _id(request, "folder"))
    return await _page(
        request, "folders_delete.html", {"usage": usage, "folder_id": _id(request, "folder")}
    )


@routes.post(r"/folders/{folder:\d+}/delete", name="folder_remove")
async def folder_delete(request: web.Request) -> web.Response:
    hub, actor, folder_id = _hub(request), _actor(request), _id(request, "folder")
    try:
        usage = await tree.delete_folder(hub, actor, folder_id)
    except Conflict as refused:
        # Used since the confirmation page was shown: say what uses it, on the tree.
        return await _folders_page(
            request, status=409, refusal=request[TRANSLATOR](refused.key, **refused.params)
        )
    await flash(request, "ok", "folders.flash.deleted", path=usage.path, count=usage.subfolders)
    raise web.HTTPSeeOther(url(request, "folders"))


# --------------------------------------------------------------------------- step 1: the folder


def _start_url(request: web.Request, app_id: int, folder_id: int | None = None) -> str:
    return url(request, "connect", app=app_id, query={"folder": folder_id or None})


def _board_url(
    request: web.Request,
    app_id: int,
    folder_id: int,
    query: str | None = None,
    page: int = 1,
    connected: bool = False,
) -> str:
    wanted = {
        "folder": folder_id,
        "q": query or None,
        "show": "connected" if connected else None,
        "page": page if page > 1 else None,
    }
    return url(request, "connect_dossiers", app=app_id, query=wanted)


@routes.get(r"/applications/{app:\d+}/connect", name="connect")
async def connect_start(request: web.Request) -> web.Response:
    view = await conn.start(_hub(request), _actor(request), _id(request, "app"))
    chosen = _int(request.query.get("folder")) or view.suggested_id
    return await _start_page(request, view, chosen)


async def _start_page(
    request: web.Request,
    view: conn.Start,
    chosen: int | None,
    *,
    apply_connected: bool = False,
    error: str = "",
) -> web.Response:
    return await _page(
        request,
        "connections_folder.html",
        {
            "view": view,
            "app": view.app,
            "chosen": chosen,
            "apply_connected": apply_connected,
            "error": error,
            "step": 1,
        },
        status=400 if error else 200,
    )


@routes.post(r"/applications/{app:\d+}/connect", name="connect_folder")
async def connect_folder(request: web.Request) -> web.Response:
    hub, actor, app_id = _hub(request), _actor(request), _id(request, "app")
    form = await request.post()
    folder_id = _int(form.get("folder"))
    apply_connected = form.get("apply_connected") == "1"
    try:
        done = await conn.choose_folder(hub, actor, app_id, folder_id, apply_connected)
    except InvalidInput as error:
        view = await conn.start(hub, actor, app_id)
        message = request[TRANSLATOR](error.key, **error.params)
        return await _start_page(
            request, view, folder_id, apply_connected=apply_connected, error=message
        )
    if apply_connected:
        await flash(request, "ok", "connections.flash.applied", folder=done.path, count=done.added)
    raise web.HTTPSeeOther(_board_url(request, app_id, done.folder_id))


# --------------------------------------------------------------------------- step 2: the dossiers


async def _board_page(
    request: web.Request,
    app_id: int,
    folder_id: int,
    query: str | None,
    page: int,
    connected: bool,
    *,
    status: int = 200,
    raw_query: str = "",
    search_error: str = "",
    **extra: Any,
) -> web.Response:
    view = await conn.board(
        _hub(request), _actor(request), app_id, folder_id, query, page, connected
    )
    context: dict[str, Any] = {
        "board": view,
        "app": view.app,
        "raw_query": raw_query if raw_query else (query or ""),
        "search_error": search_error,
        "step": 2,
        "outcomes": [],
        "imported": None,
        "problems": None,
        "file_error": "",
        "filename": "",
        "errors": {},
        "submitted": {},
        "listed": LISTED,
        "page_url": _board_url(request, app_id, folder_id, query, 1, connected) + "&page=",
        "all_url": _board_url(request, app_id, folder_id, query),
        "connected_url": _board_url(request, app_id, folder_id, query, connected=True),
        "clear_url": _board_url(request, app_id, folder_id, connected=connected),
        "start_url": _start_url(request, app_id, folder_id),
        # After a POST the page is rendered in place: the language switch comes back to the list.
        "here": _board_url(request, app_id, folder_id, query, page, connected),
    }
    context.update(extra)
    return await _page(request, "connections_dossiers.html", context, status=status)


@routes.get(r"/applications/{app:\d+}/connect/dossiers", name="connect_dossiers")
async def connect_dossiers(request: web.Request) -> web.Response:
    app_id = _id(request, "app")
    folder_id = _int(request.query.get("folder"))
    if folder_id is None:
        raise web.HTTPSeeOther(_start_url(request, app_id))
    raw = request.query.get("q", "")
    search_error = ""
    try:
        query = search_term(raw)
    except InvalidInput as error:
        query, search_error = None, request[TRANSLATOR](error.key, **error.params)
    return await _board_page(
        request,
        app_id,
        folder_id,
        query,
        page_number(request.query.get("page")),
        request.query.get("show") == "connected",
        status=400 if search_error else 200,
        raw_query=raw,
        search_error=search_error,
    )


def _entries(form: MultiDictProxy[Any]) -> list[conn.Entry]:
    """The rows of the page that was shown, as typed (every shown row, ticked or not)."""
    entries: list[conn.Entry] = []
    for part in _text(form, "shown").split(","):
        dossier_id = _int(part)
        if dossier_id is None:
            continue
        entries.append(
            conn.Entry(
                dossier_id=dossier_id,
                authorized=form.get(f"auth.{dossier_id}") == "1",
                value=_text(form, f"value.{dossier_id}"),
                generate=form.get(f"generate.{dossier_id}") == "1",
                add_folder=form.get(f"add_folder.{dossier_id}") == "1",
            )
        )
    return entries


@routes.post(r"/applications/{app:\d+}/connect/dossiers", name="connect_dossiers_save")
async def connect_dossiers_save(request: web.Request) -> web.Response:
    hub, actor, app_id = _hub(request), _actor(request), _id(request, "app")
    form = await request.post()
    folder_id = _int(form.get("folder"))
    if folder_id is None:
        raise web.HTTPSeeOther(_start_url(request, app_id))
    try:
        query = search_term(_text(form, "q"))
    except InvalidInput:
        query = None
    page = page_number(_text(form, "page"))
    connected = form.get("show") == "connected"
    action = _text(form, "action")
    args = (request, app_id, folder_id, query, page, connected)
    if action.startswith("disconnect:"):
        dossier_id = _int(action.removeprefix("disconnect:"))
        if dossier_id is None:
            raise web.HTTPBadRequest()
        outcome = await conn.disconnect(hub, actor, app_id, dossier_id)
        return await _board_page(*args, outcomes=[outcome])
    entries = _entries(form)
    try:
        saved = await conn.save(hub, actor, app_id, folder_id, entries)
    except InvalidInput as error:
        problems = error.params.get("problems") or {error.field or "form": error.key}
        t = request[TRANSLATOR]
        errors = {
            _int(str(k).removeprefix("row.")): t(str(v))
            for k, v in problems.items()
            if str(k).startswith("row.")
        }
        return await _board_page(
            *args,
            status=400,
            errors=errors,
            submitted={e.dossier_id: e for e in entries},
        )
    return await _board_page(*args, outcomes=saved.outcomes, nothing_changed=not saved.outcomes)


@routes.post(r"/applications/{app:\d+}/connect/import", name="connect_import")
async def connect_import(request: web.Request) -> web.Response:
    hub, actor, app_id = _hub(request), _actor(request), _id(request, "app")
    t: Translator = request[TRANSLATOR]
    form = await request.post()
    folder_id = _int(form.get("folder"))
    if folder_id is None:
        raise web.HTTPSeeOther(_start_url(request, app_id))
    args = (request, app_id, folder_id, None, 1, False)
    upload = form.get("file")
    if not isinstance(upload, web.FileField):
        return await _board_page(*args, status=400, file_error=t("connections.import.no_file"))
    data = upload.file.read()
    filename = upload.filename
    try:
        imported = await conn.import_file(hub, actor, app_id, folder_id, data)
    except ImportRejected as rejected:
        problems = [(line, _reason(t, reason)) for line, reason in rejected.problems]
        return await _board_page(*args, status=400, problems=problems, filename=filename)
    except InvalidInput as error:
        return await _board_page(
            *args,
            status=400,
            file_error=t(error.key, **error.params),
            filename=filename,
        )
    return await _board_page(*args, imported=imported, filename=filename)


def _reason(t: Translator, reason: str) -> str:
    key = getattr(reason, "key", None)
    if not key:
        return reason
    return t(key, **dict(getattr(reason, "values", {})))


@routes.get(r"/applications/{app:\d+}/connect/template.csv", name="connect_template")
async def connect_template(request: web.Request) -> web.Response:
    filename, body = await conn.template(_hub(request), _actor(request), _id(request, "app"))
    return web.Response(
        body=body,
        content_type="text/csv",
        charset="utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{quote(filename)}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


def setup(app: web.Application) -> None:
    """Register this area's routes."""
    app.router.add_routes(routes)
