"""A dossier's folders and documents (upload), a document's history, and the firm's API tokens
for the REST API.

Each handler reads the request, calls one use-case (:mod:`hub.folders_view`,
:mod:`hub.documents`, :mod:`hub.history`, :mod:`hub.tokens`) and renders; rights and firm scoping
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
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from aiohttp.web_request import FileField
from aiohttp_session import get_session

from admin.keys import ACTOR, HUB, TRANSLATOR
from admin.notices import flash, notice
from admin.render import render
from hub import tokens
from hub.documents import MAX_DOCUMENT_SIZE, receive_document
from hub.errors import InvalidInput, NotFound, PermissionDenied, RelaisError
from hub.folders_view import folder_view, require_readable
from hub.history import DocumentHistory, document_history, retry_deliveries
from hub.i18n import Translator
from hub.paging import page_number
from hub.rights import require_staff

routes = web.RouteTableDef()
NOTICE = "tokens_notice"
HISTORY_FLASH = "history_flash"
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


def when(moment: datetime, lang: str, *, seconds: bool = False) -> str:
    """The panel's dates (UTC, as stored): 23/11/2026 14:05 in French, 2026-11-23 14:05 in
    English; with ``seconds`` for attempts, which may follow each other within a minute."""
    clock = "%H:%M:%S" if seconds else "%H:%M"
    return moment.strftime(("%d/%m/%Y " if lang == "fr" else "%Y-%m-%d ") + clock)


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


def _history_url(document_id: int, *, partial: bool = False) -> str:
    return f"/admin/documents/{document_id}/history" + ("?partial=1" if partial else "")


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
    lang = t.lang
    session = await get_session(request)
    stored = session.pop(HISTORY_FLASH, None)
    flash_message: dict[str, Any] | None = None
    if isinstance(stored, dict):
        try:
            text = t(str(stored.get("key")), **dict(stored.get("params") or {}))
        except (KeyError, IndexError, ValueError):
            text = t(str(stored.get("key")))
        flash_message = {
            "level": str(stored.get("level", "ok")),
            "text": text,
            "delivery": stored.get("delivery"),  # the send it is about, shown there
        }
    partial = request.query.get("partial") == "1"
    context: dict[str, Any] = {
        "history": history,
        "flash": flash_message,
        "size": lambda n: human_size(n, lang),
        "when": lambda moment: when(moment, lang),
        "when_s": lambda moment: when(moment, lang, seconds=True),
        "reason_label": lambda reason: _label(t, "dashboard.reason", reason),
        "reason_fix": lambda reason: _fix(t, reason),
        "folder_url": _documents_url(history.dossier_code, history.folder),
        "retry_url": _history_url(history.id) + "/retry",
        "partial": partial,
        # A document belongs to the dossiers: that item of the navigation stays lit.
        "current": "/admin/dossiers",
        # The language switch of the whole page comes back here, never to the fragment.
        "here": _history_url(history.id),
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
    message: dict[str, Any]
    if wanted is None or label is None:
        # Not a send of this document (a stale or hand-made form): nothing to do here.
        message = {"level": "error", "key": "history.retry.nothing", "params": {}}
    else:
        try:
            result = await retry_deliveries(hub, actor, [wanted])
        except (InvalidInput, PermissionDenied, NotFound) as refused:
            message = {"level": "error", "key": refused.key, "params": refused.params}
        else:
            done = bool(result.retried)
            message = {
                "level": "ok" if done else "error",
                "key": "history.retry.done" if done else "history.retry.nothing",
                "params": {"application": label},
            }
    session = await get_session(request)
    session[HISTORY_FLASH] = {**message, "delivery": wanted if label is not None else None}
    raise web.HTTPSeeOther(_history_url(history.id, partial=form.get("partial") == "1"))


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
