"""A dossier's folders and documents (upload), and the firm's API tokens for the REST API.

Each handler reads the request, calls one use-case (:mod:`hub.folders_view`,
:mod:`hub.documents`, :mod:`hub.tokens`) and renders; rights and firm scoping live there.

An upload is answered with the page itself, showing one result per file, rather than a redirect:
sending the same form again is harmless (identical bytes are recognised and change nothing), and
a result per file does not fit in the session cookie.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from aiohttp import web
from aiohttp.web_request import FileField

from admin.keys import ACTOR, TRANSLATOR
from admin.notices import flash, notice
from admin.render import render
from hub import tokens
from hub.context import HUB
from hub.documents import MAX_DOCUMENT_SIZE, receive_document
from hub.errors import InvalidInput, RelaisError
from hub.folders_view import folder_view
from hub.i18n import Translator
from hub.paging import page_number
from hub.rights import require_staff

routes = web.RouteTableDef()
NOTICE = "tokens_notice"
# The panel's request body limit (the app's client_max_size) bounds one upload form.
MAX_FILES = 20


@dataclass(frozen=True)
class FileResult:
    name: str
    outcome: str  # stored | identical | refused
    version: int = 0
    deliveries: int = 0
    reason: str = ""


def human_size(size: int, lang: str) -> str:
    units = ("o", "Ko", "Mo", "Go") if lang == "fr" else ("B", "KB", "MB", "GB")
    value = float(size)
    for unit in units:
        if value < 1024 or unit == units[-1]:
            whole = unit == units[0] or value >= 100 or value.is_integer()
            text = f"{value:.0f}" if whole else f"{value:.1f}"
            return f"{text.replace('.', ',') if lang == 'fr' else text} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def when(moment: datetime, lang: str) -> str:
    return moment.strftime("%d/%m/%Y %H:%M" if lang == "fr" else "%Y-%m-%d %H:%M")


def _refusal(t: Translator, error: RelaisError) -> str:
    params = dict(error.params)
    if isinstance(params.get("limit"), int):
        params["limit"] = human_size(params["limit"], t.lang)
    try:
        return t(error.key, **params)
    except (KeyError, IndexError, ValueError):
        return t(error.key)


def _documents_url(code: str, folder: str | None = None, page: int | None = None) -> str:
    query: dict[str, str | int] = {}
    if folder:
        query["folder"] = folder
    if page and page > 1:
        query["page"] = page
    return f"/admin/dossiers/{code}/documents" + (f"?{urlencode(query)}" if query else "")


async def _page(
    request: web.Request,
    folder: str | None,
    *,
    results: list[FileResult] | None = None,
    problem: str = "",
    status: int = 200,
) -> web.Response:
    view = await folder_view(
        request.config_dict[HUB],
        request[ACTOR],
        request.match_info["code"],
        folder,
        page=page_number(request.query.get("page")),
    )
    lang = request[TRANSLATOR].lang
    return await render(
        request,
        "documents.html",
        {
            "view": view,
            "results": results or [],
            "problem": problem,
            "size": lambda n: human_size(n, lang),
            "when": lambda moment: when(moment, lang),
            "url": _documents_url,
            "limit": human_size(MAX_DOCUMENT_SIZE, lang),
            # After an upload (a POST) the language switch comes back to this folder's page.
            "here": _documents_url(view.code, view.selected.path if view.selected else None),
        },
        status=status,
    )


@routes.get("/dossiers/{code}/documents", name="dossier_documents")
async def documents_page(request: web.Request) -> web.Response:
    require_staff(request[ACTOR])
    return await _page(request, request.query.get("folder") or None)


@routes.post("/dossiers/{code}/documents", name="dossier_documents_upload")
async def upload(request: web.Request) -> web.Response:
    hub, actor, code = request.config_dict[HUB], request[ACTOR], request.match_info["code"]
    require_staff(actor)
    t = request[TRANSLATOR]
    # The body was read once (bounded by the app's client_max_size: larger is 413) by the CSRF
    # check; this is the same parsed form.
    form = await request.post()
    folder = str(form.get("folder", "")).strip()
    files = [f for f in form.getall("files", []) if isinstance(f, FileField) and f.filename]
    if not files:
        return await _page(request, folder or None, problem=t("documents.no_files"), status=400)
    if len(files) > MAX_FILES:
        problem = t("documents.too_many_files", maximum=MAX_FILES)
        return await _page(request, folder or None, problem=problem, status=400)
    results: list[FileResult] = []
    for field in files:
        data = field.file.read(MAX_DOCUMENT_SIZE + 1)
        try:
            receipt = await receive_document(
                hub, actor, code, folder, field.filename, data, "panel"
            )
        except InvalidInput as refused:
            results.append(FileResult(field.filename, "refused", reason=_refusal(t, refused)))
            continue
        outcome = "identical" if receipt.duplicate else "stored"
        results.append(FileResult(receipt.name, outcome, receipt.number, receipt.deliveries))
    try:
        return await _page(request, folder or None, results=results)
    except InvalidInput:  # the folder itself was the problem: each result says so
        return await _page(request, None, results=results)


# --------------------------------------------------------------------------- API tokens


async def _tokens_page(
    request: web.Request,
    *,
    created: tokens.NewToken | None = None,
    label: str = "",
    problem: str = "",
    status: int = 200,
) -> web.Response:
    rows = await tokens.list_tokens(request.config_dict[HUB], request[ACTOR])
    lang = request[TRANSLATOR].lang
    base = request.url.origin() if request.url.is_absolute() else ""
    return await render(
        request,
        "tokens.html",
        {
            "tokens": rows,
            "created": created,
            "label": label,
            "problem": problem,
            "notice": await notice(request, NOTICE),
            "when": lambda moment: when(moment, lang),
            "api_base": f"{base}/api/v1",
        },
        status=status,
    )


@routes.get("/tokens", name="tokens")
async def tokens_page(request: web.Request) -> web.Response:
    return await _tokens_page(request)


@routes.post("/tokens", name="tokens_create")
async def tokens_create(request: web.Request) -> web.Response:
    form = await request.post()
    label = str(form.get("label", ""))
    try:
        created = await tokens.create_token(request.config_dict[HUB], request[ACTOR], label)
    except InvalidInput as refused:
        problem = _refusal(request[TRANSLATOR], refused)
        return await _tokens_page(request, label=label, problem=problem, status=400)
    # Shown on this answer only: the secret is in no session, no redirect, no log.
    return await _tokens_page(request, created=created)


@routes.post(r"/tokens/{token_id:\d+}/revoke", name="tokens_revoke")
async def tokens_revoke(request: web.Request) -> web.Response:
    label = await tokens.revoke_token(
        request.config_dict[HUB], request[ACTOR], int(request.match_info["token_id"])
    )
    await flash(request, NOTICE, "tokens.revoked", label=label)
    raise web.HTTPFound("/admin/tokens")


def setup(app: web.Application) -> None:
    """Register this area's routes."""
    app.router.add_routes(routes)
