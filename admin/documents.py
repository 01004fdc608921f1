"""A dossier's folders and documents (upload), a document's history, and the firm's API tokens
for the REST API.

Each handler reads the request, calls one use-case (:mod:`hub.documents`,
:mod:`hub.history`, :mod:`hub.tokens`) and renders; rights and firm scoping
live there.

A document's history (``/documents/{id}/history``) is a page of its own, and, asked with
``partial=1``, the fragment ``documents.js`` shows in the folder view's side drawer. Retrying a
failed send from it posts back and comes back (post/redirect/get) to the same history with a notice.

An upload is answered with the page itself, showing one result per file, rather than a redirect:
sending the same form again is harmless (identical bytes are recognised and change nothing), and
a result per file does not fit in the session cookie.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.web_request import FileField

from admin.flash import flash
from admin.keys import ACTOR, HUB, TRANSLATOR
from admin.render import render, url
from hub import tokens
from hub.documents import MAX_DOCUMENT_SIZE, folder_view, receive_document, require_readable
from hub.errors import InvalidInput, NotFound, PermissionDenied, RelaisError
from hub.history import DocumentHistory, document_history, retry_deliveries
from hub.i18n import Translator
from hub.paging import page_number
from hub.rights import require_staff

routes = web.RouteTableDef()
# The panel's request body limit (the app's client_max_size) bounds one upload form.
MAX_FILES = 20


@dataclass(frozen=True)
class FileResult:
    name: str
    outcome: str  # stored | identical | refused
    version: int = 0
    deliveries: int = 0
    reason: str = ""


def _refusal(t: Translator, error: RelaisError) -> str:
    params = dict(error.params)
    if isinstance(params.get("limit"), int):
        params["limit"] = t.size(params["limit"])
    return t(error.key, **params)


def _documents_url(
    request: web.Request, code: str, folder: str | None = None, page: int | None = None
) -> str:
    query = {"folder": folder or None, "page": page if page and page > 1 else None}
    return url(request, "dossier_documents", code=code, query=query)


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
    selected = view.selected.path if view.selected else None
    return await render(
        request,
        "documents.html",
        {
            "view": view,
            "results": results or [],
            "problem": problem,
            "folder_url": lambda *args: _documents_url(request, *args),
            "limit": request[TRANSLATOR].size(MAX_DOCUMENT_SIZE),
            # After an upload (a POST) the language switch comes back to this folder's page.
            "here": _documents_url(request, view.code, selected),
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
    # Refused before anything is stored when the folder view itself would be.
    await require_readable(hub, actor, code)
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


# --------------------------------------------------------------------------- history


def _history_url(request: web.Request, document_id: int, *, partial: bool = False) -> str:
    query = {"partial": 1 if partial else None}
    return url(request, "document_history", document_id=document_id, query=query)


def _label(t: Translator, prefix: str, value: str) -> str:
    """``dashboard.reason.too_large`` → "File too large"; an unknown value is shown as it is."""
    key = f"{prefix}.{value}"
    text = t(key)
    return value if text == key else text


def _fix(t: Translator, reason: str | None) -> str:
    """What to do about a failure, in plain words ("" when there is nothing to add)."""
    key = f"dashboard.fix.{reason}"
    text = t(key) if reason else key
    return "" if text == key else text


@routes.get(r"/documents/{document_id:\d+}/history", name="document_history")
async def history_page(request: web.Request) -> web.Response:
    hub, actor = request.config_dict[HUB], request[ACTOR]
    require_staff(actor)
    history = await document_history(hub, actor, int(request.match_info["document_id"]))
    t: Translator = request[TRANSLATOR]
    partial = request.query.get("partial") == "1"
    context: dict[str, Any] = {
        "history": history,
        "reason_label": lambda reason: _label(t, "dashboard.reason", reason),
        "reason_fix": lambda reason: _fix(t, reason),
        "folder_url": _documents_url(request, history.dossier_code, history.folder),
        "retry_url": url(request, "document_history_retry", document_id=history.id),
        "partial": partial,
        # A document belongs to the dossiers: that item of the navigation stays lit.
        "current": url(request, "dossiers"),
        # The language switch of the whole page comes back here, never to the fragment.
        "here": _history_url(request, history.id),
    }
    template = "documents_history_body.html" if partial else "documents_history.html"
    return await render(request, template, context)


@routes.post(r"/documents/{document_id:\d+}/history/retry", name="document_history_retry")
async def history_retry(request: web.Request) -> web.Response:
    hub, actor = request.config_dict[HUB], request[ACTOR]
    require_staff(actor)
    history = await document_history(hub, actor, int(request.match_info["document_id"]))
    form = await request.post()
    raw = form.get("delivery")
    wanted = int(raw) if isinstance(raw, str) and raw.isdigit() else None
    label = _delivery_label(history, wanted)
    if wanted is None or label is None:
        # Not a send of this document (a stale or hand-made form): nothing to do here.
        await flash(request, "error", "history.retry.nothing")
    else:
        # The message is about that send: the history shows it there, where the button was.
        try:
            result = await retry_deliveries(hub, actor, [wanted])
        except (InvalidInput, PermissionDenied, NotFound) as refused:
            await flash(request, "error", refused.key, about=wanted, **refused.params)
        else:
            level, key = (
                ("ok", "history.retry.done")
                if result.retried
                else ("error", "history.retry.nothing")
            )
            await flash(request, level, key, about=wanted, application=label)
    partial = form.get("partial") == "1"
    raise web.HTTPSeeOther(_history_url(request, history.id, partial=partial))


def _delivery_label(history: DocumentHistory, delivery_id: int | None) -> str | None:
    for version in history.versions:
        for delivery in version.deliveries:
            if delivery.id == delivery_id:
                return delivery.application
    return None


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
    base = request.url.origin() if request.url.is_absolute() else ""
    return await render(
        request,
        "tokens.html",
        {
            "tokens": rows,
            "created": created,
            "label": label,
            "problem": problem,
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
    await flash(request, "ok", "tokens.revoked", label=label)
    raise web.HTTPFound(url(request, "tokens"))


def setup(app: web.Application) -> None:
    """Register this area's routes."""
    app.router.add_routes(routes)
