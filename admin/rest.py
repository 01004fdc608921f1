"""The document REST API (``/api/v1``): a sub-application of its own, authenticated by firm API
tokens, without the panel's cookies and CSRF (it is for machines, not browsers).

Written down in ``docs/openapi.yaml``. Every error is a JSON problem document (RFC 9457: ``type``,
``title``, ``status``, ``detail``) made in one place, :func:`problems`; never a stack trace.

Uploads are read in chunks and stopped at :data:`hub.documents.MAX_DOCUMENT_SIZE`: a request that
announces more is refused with 413 before a byte is read, and one that streams more is refused as
soon as it passes the limit, so an oversize upload never fills memory or disk.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from email.message import Message
from typing import Any

from aiohttp import BodyPartReader, web
from aiohttp.typedefs import Handler

from hub.context import HUB
from hub.documents import MAX_DOCUMENT_SIZE, VersionReceipt, receive_document
from hub.errors import InvalidInput, NotRecognised, RelaisError
from hub.folders_view import DocumentEntry, list_documents, normalise_path
from hub.i18n import Translator, language_of
from hub.identity import Actor
from hub.paging import page_number
from hub.settings import Settings
from hub.tokens import authenticate_token

log = logging.getLogger("relais.api")

PROBLEM_TYPE = "application/problem+json"
PROBLEM_BASE = "https://relais.dev/problems/"
CHUNK = 64 * 1024
# Room for a multipart body's boundaries and part headers around the file itself.
MULTIPART_OVERHEAD = 64 * 1024
MAX_FIELD = 4096

ACTOR = web.RequestKey("rest_actor", Actor)
LIMIT = web.AppKey("rest_upload_limit", int)


class TooLarge(Exception):
    """The body announced or streamed more than the limit."""


# --------------------------------------------------------------------------- problems

_SLUGS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "too-large",
    415: "unsupported-media-type",
    422: "invalid-input",
    500: "server-error",
}
_TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Invalid input",
    500: "Server error",
}


def problem(
    status: int, detail: str, *, code: str = "", headers: dict[str, str] | None = None
) -> web.Response:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + _SLUGS.get(status, "error"),
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if code:
        body["code"] = code
    response = web.json_response(body, status=status, content_type=PROBLEM_TYPE)
    response.headers.update(headers or {})
    return response


def _translator(request: web.Request) -> Translator:
    first = request.headers.get("Accept-Language", "").split(",")[0].split(";")[0].strip()
    return Translator("admin", language_of(first) if first else "en")


def _detail(t: Translator, error: RelaisError) -> str:
    try:
        return t(error.key, **error.params)
    except (KeyError, IndexError, ValueError):
        return t(error.key)


def _status(error: RelaisError) -> int:
    if isinstance(error, NotRecognised):
        return 401
    if error.key == "documents.too_large":
        return 413
    if isinstance(error, InvalidInput):
        return 422
    return error.status if 400 <= error.status < 600 else 500


@web.middleware
async def problems(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The one place where anything a handler raises becomes a problem document."""
    t = _translator(request)
    try:
        return await handler(request)
    except TooLarge:
        return problem(
            413, t("documents.too_large_api", limit=MAX_DOCUMENT_SIZE), code="documents.too_large"
        )
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return problem(exc.status, exc.reason)
    except RelaisError as exc:
        status = _status(exc)
        if status >= 500:
            log.error("%s on %s: %s", type(exc).__name__, request.path, exc)
        headers = {"WWW-Authenticate": 'Bearer realm="relais"'} if status == 401 else None
        return problem(status, _detail(t, exc), code=exc.key, headers=headers)
    except Exception:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return problem(500, t("api.server_error"))


# --------------------------------------------------------------------------- authentication


async def _authenticated(request: web.Request) -> Actor:
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise NotRecognised("no bearer token", key="api.no_token")
    try:
        actor = await authenticate_token(request.config_dict[HUB], secret.strip())
    except NotRecognised as refused:
        # Never the token itself: only why it was refused.
        log.info("API request refused: %s", refused.params.get("reason"))
        raise NotRecognised("bad token", key="api.bad_token") from None
    request[ACTOR] = actor
    return actor


# --------------------------------------------------------------------------- reading uploads


def _limit(request: web.Request) -> int:
    return request.config_dict.get(LIMIT, MAX_DOCUMENT_SIZE)


async def _bounded(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    """Read ``chunks`` into memory, giving up as soon as they pass ``limit``."""
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise TooLarge
        parts.append(chunk)
    return b"".join(parts)


async def _part_chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk(CHUNK):
        yield chunk


async def _text_field(part: BodyPartReader) -> str:
    data = await _bounded(_part_chunks(part), MAX_FIELD)
    return data.decode(part.get_charset("utf-8"), errors="replace")


def _disposition_filename(header: str) -> str:
    if not header:
        return ""
    message = Message()
    message["Content-Disposition"] = header
    return message.get_filename() or ""


async def _upload(request: web.Request) -> tuple[str, str, bytes]:
    """(folder path, file name, bytes) from a multipart form or a raw body."""
    limit = _limit(request)
    overhead = MULTIPART_OVERHEAD if request.content_type == "multipart/form-data" else 0
    if request.content_length is not None and request.content_length > limit + overhead:
        raise TooLarge
    folder = request.query.get("folder", "")
    if request.content_type == "multipart/form-data":
        filename, data, seen = "", b"", False
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise InvalidInput("nested multipart", field="file", key="api.bad_multipart")
            if part.name == "folder":
                folder = await _text_field(part)
            elif part.name == "file":
                if seen:
                    raise InvalidInput("one file per request", field="file", key="api.one_file")
                seen = True
                filename = part.filename or ""
                data = await _bounded(_part_chunks(part), limit)
            else:
                await part.release()
        if not seen:
            raise InvalidInput("no file part", field="file", key="api.no_file")
        return folder, filename, data
    filename = request.query.get("filename") or _disposition_filename(
        request.headers.get("Content-Disposition", "")
    )
    if not filename:
        raise InvalidInput("no file name", field="filename", key="api.no_filename")
    data = await _bounded(request.content.iter_chunked(CHUNK), limit)
    return folder, filename, data


# --------------------------------------------------------------------------- handlers

routes = web.RouteTableDef()


def receipt_json(code: str, folder: str, receipt: VersionReceipt) -> dict[str, Any]:
    return {
        "dossier": code,
        "folder": folder,
        "document_id": receipt.document_id,
        "version_id": receipt.version_id,
        "version": receipt.number,
        "name": receipt.name,
        "content_type": receipt.content_type,
        "sha256": receipt.sha256,
        "size": receipt.size,
        "deliveries": receipt.deliveries,
        "duplicate": receipt.duplicate,
    }


def document_json(entry: DocumentEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "name": entry.name,
        "folder": entry.folder,
        "version": entry.version,
        "size": entry.size,
        "content_type": entry.content_type,
        "sha256": entry.sha256,
        "source": entry.source,
        "uploaded_at": entry.uploaded_at.isoformat(),
        "deliveries": {
            "pending": entry.deliveries.pending,
            "sent": entry.deliveries.sent,
            "failed": entry.deliveries.failed,
        },
    }


@routes.post("/dossiers/{code}/documents", name="api_upload")
async def upload(request: web.Request) -> web.Response:
    actor = await _authenticated(request)
    code = request.match_info["code"]
    folder, filename, data = await _upload(request)
    receipt = await receive_document(
        request.config_dict[HUB], actor, code, folder, filename, data, "api"
    )
    body = receipt_json(code, normalise_path(folder), receipt)
    # 201: a new version was stored; 200: the same bytes as the latest version, nothing created.
    return web.json_response(body, status=200 if receipt.duplicate else 201)


@routes.get("/dossiers/{code}/documents", name="api_documents")
async def documents(request: web.Request) -> web.Response:
    actor = await _authenticated(request)
    code = request.match_info["code"]
    page = await list_documents(
        request.config_dict[HUB],
        actor,
        code,
        folder=request.query.get("folder") or None,
        page=page_number(request.query.get("page")),
    )
    return web.json_response(
        {
            "dossier": code,
            "items": [document_json(entry) for entry in page.items],
            "page": page.number,
            "pages": page.pages,
            "per_page": page.per_page,
            "total": page.total,
        }
    )


def create_rest_app(settings: Settings) -> web.Application:
    app = web.Application(middlewares=[problems])
    app[LIMIT] = MAX_DOCUMENT_SIZE
    app.router.add_routes(routes)
    return app
