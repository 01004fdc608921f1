"""Team: staff, roles, the rights-managers group, and the CSV imports (staff, dossiers, contacts).

``GET /team`` lists the firm's staff (administrators get a small form per row), ``POST
/team/{id}`` changes a role or the rights-managers flag, ``GET /imports`` and ``/imports/{kind}``
show the import pages, ``POST /imports/{kind}`` imports a file and
``GET /imports/{kind}/template.csv`` downloads its template.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from admin.flash import flash
from admin.keys import ACTOR, HUB, TRANSLATOR
from admin.render import render, url
from hub.errors import ImportRejected, InvalidInput
from hub.i18n import Translator
from hub.imports import COLUMNS, KINDS, MAX_IMPORT_BYTES, REQUIRED_COLUMNS, import_file, template
from hub.paging import page_number
from hub.team import list_staff, update_staff

routes = web.RouteTableDef()


@routes.get("/team", name="team")
async def team(request: web.Request) -> web.Response:
    query = request.query.get("q", "")
    search_error = ""
    try:
        staff = await list_staff(
            request.config_dict[HUB], request[ACTOR], query, page_number(request.query.get("page"))
        )
    except InvalidInput as error:
        # A search of one or two letters: say so beside the field, and show everyone.
        search_error = request[TRANSLATOR](error.key, **error.params)
        staff = await list_staff(request.config_dict[HUB], request[ACTOR])
    return await render(
        request, "team.html", {"staff": staff, "q": query, "search_error": search_error}
    )


@routes.post(r"/team/{staff_id:\d+}", name="team_update")
async def team_update(request: web.Request) -> web.Response:
    form = await request.post()
    row = await update_staff(
        request.config_dict[HUB],
        request[ACTOR],
        int(request.match_info["staff_id"]),
        role=str(form.get("role", "")),
        rights_manager=form.get("rights_manager") == "on",
    )
    await flash(request, "ok", "team.saved", name=row.display_name)
    back = str(form.get("back", ""))
    raise web.HTTPSeeOther(url(request, "team") + (back if back.startswith("?") else ""))


@routes.get("/imports", name="imports")
async def imports(request: web.Request) -> web.Response:
    context = {"kinds": KINDS, "current": url(request, "team")}
    return await render(request, "imports.html", context)


def _kind(request: web.Request) -> str:
    kind = request.match_info["kind"]
    if kind not in KINDS:
        raise web.HTTPNotFound()
    return kind


async def _import_page(
    request: web.Request, kind: str, status: int = 200, **result: Any
) -> web.Response:
    context: dict[str, Any] = {
        "kind": kind,
        "columns": COLUMNS[kind],
        "required": REQUIRED_COLUMNS[kind],
        "limit_mb": MAX_IMPORT_BYTES >> 20,
        "current": url(request, "team"),
        "report": None,
        "problems": None,
        "error": "",
        "filename": "",
    }
    context.update(result)
    return await render(request, "imports_kind.html", context, status=status)


@routes.get("/imports/{kind}", name="import_form")
async def import_form(request: web.Request) -> web.Response:
    return await _import_page(request, _kind(request))


@routes.post("/imports/{kind}", name="import_upload")
async def import_upload(request: web.Request) -> web.Response:
    kind = _kind(request)
    t: Translator = request[TRANSLATOR]
    form = await request.post()
    upload = form.get("file")
    if not isinstance(upload, web.FileField):
        return await _import_page(request, kind, 400, error=t("import.no_file"))
    data = upload.file.read()
    try:
        report = await import_file(request.config_dict[HUB], request[ACTOR], kind, data)
    except ImportRejected as rejected:
        problems = [(line, _reason(t, reason)) for line, reason in rejected.problems]
        return await _import_page(request, kind, 400, problems=problems, filename=upload.filename)
    except InvalidInput as error:
        # Permission and other errors go to the error middleware; a wrong file stays on the form.
        return await _import_page(
            request, kind, 400, error=t(error.key, **error.params), filename=upload.filename
        )
    return await _import_page(request, kind, report=report, filename=upload.filename)


def _reason(t: Translator, reason: str) -> str:
    key = getattr(reason, "key", None)
    if not key:
        return reason
    return t(key, **getattr(reason, "values", {}))


@routes.get("/imports/{kind}/template.csv", name="import_template")
async def import_template(request: web.Request) -> web.Response:
    kind = _kind(request)
    return web.Response(
        body=template(kind),
        content_type="text/csv",
        charset="utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="relais-{kind}.csv"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


def setup(app: web.Application) -> None:
    """Register this area's routes (named after the navigation item for its main page)."""
    app.router.add_routes(routes)
