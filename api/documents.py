"""The document routes: upload a version into a dossier's folder, list a dossier's documents."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from api.keys import ACTOR, HUB
from api.uploads import read_upload
from hub.documents import (
    DocumentEntry,
    VersionReceipt,
    list_documents,
    normalise_path,
    receive_document,
)
from hub.errors import NotRecognised
from hub.identity import Actor
from hub.paging import page_number
from hub.tokens import authenticate_token

log = logging.getLogger(__name__)

routes = web.RouteTableDef()


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
    folder, filename, data = await read_upload(request)
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
