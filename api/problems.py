"""Every error of the REST API is a JSON problem document (RFC 9457: ``type``, ``title``,
``status``, ``detail``) made in one place, :func:`problems`; never a stack trace."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from hub.documents import MAX_DOCUMENT_SIZE
from hub.errors import InvalidInput, NotRecognised, RelaisError
from hub.i18n import Translator, language_of

log = logging.getLogger(__name__)

PROBLEM_TYPE = "application/problem+json"
PROBLEM_BASE = "https://relais.dev/problems/"


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
        return problem(status, t(exc.key, **exc.params), code=exc.key, headers=headers)
    except Exception:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return problem(500, t("api.server_error"))
