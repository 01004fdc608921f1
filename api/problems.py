"""Every error of the REST API is a JSON problem document (RFC 9457: ``type``, ``title``,
``status``, ``detail``) made in one place, :func:`problems`; never a stack trace."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from hub.documents import MAX_DOCUMENT_SIZE
from hub.errors import (
    ControlCharacter,
    InvalidInput,
    NotRecognised,
    RelaisError,
    refuse_control_characters,
    unavailable,
)
from hub.i18n import Translator, language_of

log = logging.getLogger(__name__)

PROBLEM_TYPE = "application/problem+json"
PROBLEM_BASE = "https://relais.dev/problems/"


class TooLarge(Exception):
    """The body announced or streamed more than the limit."""


class Malformed(Exception):
    """The request's body cannot be parsed as what it says it is (a multipart body without a
    boundary, cut short, with broken part headers…): the client's fault, a 400."""


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
    503: "unavailable",
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
    503: "Service unavailable",
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
    if isinstance(error, ControlCharacter):
        return 400
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
        _refuse_control_characters(request)
        return await handler(request)
    except TooLarge:
        return problem(
            413, t("documents.too_large_api", limit=MAX_DOCUMENT_SIZE), code="documents.too_large"
        )
    except Malformed as exc:
        log.info("malformed body on %s: %s", request.path, exc)
        return problem(400, t("api.bad_multipart"), code="api.bad_multipart")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return problem(exc.status, exc.reason)
    except RelaisError as exc:
        return _relais_problem(request, t, exc)
    except Exception as exc:
        if (known := unavailable(exc)) is not None:
            return _relais_problem(request, t, known)
        log.exception("unexpected error on %s %s", request.method, request.path)
        return problem(500, t("api.server_error"))


def _refuse_control_characters(request: web.Request) -> None:
    """The path's and the query's values, before any handler reads them (the body's fields and
    file names are checked as they are read, :mod:`api.uploads`)."""
    for name, value in request.match_info.items():
        refuse_control_characters(name, value)
    for name, value in request.query.items():
        refuse_control_characters(name, name)
        refuse_control_characters(name, value)


def _relais_problem(request: web.Request, t: Translator, exc: RelaisError) -> web.Response:
    status = _status(exc)
    if status >= 500:
        log.error("%s on %s: %s", type(exc).__name__, request.path, exc)
    headers = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="relais"'
    if retry_after := getattr(exc, "retry_after", None):
        headers["Retry-After"] = str(retry_after)
    return problem(status, t(exc.key, **exc.params), code=exc.key, headers=headers)
