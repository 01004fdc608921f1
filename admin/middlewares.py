"""The panel's middlewares, outermost first: errors → CSRF → sign-in → plain text.

``errors`` is the one place where anything a handler raises becomes a page: a
:class:`hub.errors.RelaisError` is translated by its key (a database locked past its busy timeout
or a document folder that cannot be written is such an error, 503 with ``Retry-After``), an HTTP
error gets its page, anything else is logged with its traceback and shown as a generic apology
(never a stack trace). ``plain_text`` is the one place where what a person typed (the path, the
query string, every form field and file name) is refused when it holds an invisible control
character, naming the field.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Handler
from aiohttp_session import Session, get_session

from admin.flash import flash
from admin.keys import ACTOR, CLOCK, HUB, TRANSLATOR
from admin.render import render, url
from admin.security import (
    CSRF_FIELD,
    CSRF_HEADER,
    TOKEN,
    csrf_valid,
    forget,
    request_language,
)
from hub.errors import NotRecognised, RelaisError, refuse_control_characters, unavailable
from hub.i18n import Translator
from hub.team import EXPIRED, resume_panel_session

log = logging.getLogger(__name__)

# Routes anyone may open; every other panel page needs a signed-in person.
PUBLIC_ROUTES = frozenset(
    {
        "login",
        "login_microsoft",
        "auth_callback",
        "login_demo",
        "logout",
        "language",
        "static",
        "privacy",
        "terms",
    }
)
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
# What aiohttp's form parser raises on a body that is not what its headers say (no boundary,
# cut short, broken part headers, unknown charset): the browser's or the script's fault.
_MALFORMED = (ValueError, LookupError, RuntimeError, AssertionError, HttpProcessingError)


class CsrfRejected(Exception):
    """A form came back without this session's token (stale page, or another site posting)."""


def _kind(status: int) -> str:
    kinds = {
        403: "forbidden",
        404: "not_found",
        405: "not_allowed",
        409: "conflict",
        413: "too_large",
        503: "unavailable",
    }
    return kinds.get(status, "server" if status >= 500 else "bad_request")


async def _error_page(
    request: web.Request, status: int, kind: str, message: str = ""
) -> web.Response:
    t = request[TRANSLATOR]
    title_key = f"errors.{kind}.title"
    return await render(
        request,
        "error.html",
        {
            "status": status,
            "kind": kind,
            "title": t(title_key),
            "message": message or t(f"errors.{kind}.message"),
        },
        status=status,
    )


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    session = await get_session(request)
    # The panel states its times in UTC ("Times in UTC.", "Date (UTC)"), as stored: its translator
    # formats in UTC rather than in the firm's zone (notice_timezone), which the bot and mails use.
    request[TRANSLATOR] = Translator("admin", request_language(request, session), "UTC")
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return await _error_page(request, exc.status, _kind(exc.status))
    except CsrfRejected:
        return await _error_page(request, 403, "csrf")
    except NotRecognised as exc:
        log.info("not recognised on %s: %s", request.path, exc)
        return await _error_page(
            request, exc.status, "not_recognised", request[TRANSLATOR](exc.key, **exc.params)
        )
    except RelaisError as exc:
        return await _relais_page(request, exc)
    except Exception as exc:
        if (known := unavailable(exc)) is not None:
            return await _relais_page(request, known)
        log.exception("unexpected error on %s %s", request.method, request.path)
        return await _error_page(request, 500, "server")


async def _relais_page(request: web.Request, exc: RelaisError) -> web.Response:
    if exc.status >= 500:
        log.error("%s on %s: %s", type(exc).__name__, request.path, exc)
    message = request[TRANSLATOR](exc.key, **exc.params)
    page = await _error_page(request, exc.status, _kind(exc.status), message)
    if retry_after := getattr(exc, "retry_after", None):
        page.headers["Retry-After"] = str(retry_after)
    return page


async def _form(request: web.Request) -> Any:
    """The posted form (parsed once, aiohttp keeps it), a malformed body being a 400."""
    try:
        return await request.post()
    except _MALFORMED as error:
        log.info("malformed form on %s: %s", request.path, error)
        raise web.HTTPBadRequest() from None


@web.middleware
async def csrf(request: web.Request, handler: Handler) -> web.StreamResponse:
    # A POST to no route changes nothing: let the router's 404/405 through.
    if request.method in UNSAFE_METHODS and request.match_info.http_exception is None:
        session = await get_session(request)
        submitted = request.headers.get(CSRF_HEADER)
        if submitted is None and request.content_type in FORM_TYPES:
            form = await _form(request)
            value = form.get(CSRF_FIELD)
            submitted = value if isinstance(value, str) else None
        if not csrf_valid(session, submitted):
            log.warning("CSRF token missing or wrong on %s %s", request.method, request.path)
            raise CsrfRejected
    return await handler(request)


@web.middleware
async def signed_in(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Load the signed-in person, or send the browser to the sign-in page (and back after)."""
    session = await get_session(request)
    refused = await _load_actor(request, session)
    public = request.match_info.route.name in PUBLIC_ROUTES
    if ACTOR not in request and not public and request.match_info.http_exception is None:
        if refused == EXPIRED:
            await flash(request, "warning", "login.session_expired")
        query = {"next": request.path_qs} if request.method == "GET" else None
        raise web.HTTPFound(url(request, "login", query=query))
    return await handler(request)


async def _load_actor(request: web.Request, session: Session) -> str | None:
    """Set the request's person from the session's record on the server; otherwise, why not
    (the ``reason`` of :class:`NotRecognised`), and the cookie's session is emptied."""
    if TOKEN not in session:
        return None
    hub = request.config_dict[HUB]
    try:
        request[ACTOR] = await resume_panel_session(
            hub.sessions, hub.settings, session[TOKEN], request.config_dict[CLOCK]()
        )
    except NotRecognised as exc:
        # Signed out (perhaps from another copy of the cookie), ended, or removed since.
        forget(session)
        return str(exc.params.get("reason", ""))
    return None


@web.middleware
async def plain_text(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse an invisible control character (NUL…) wherever a person's text comes in, before
    a handler or the database sees it: a 400 page naming the field."""
    for name, value in request.match_info.items():
        refuse_control_characters(name, value)
    for name, value in request.query.items():
        refuse_control_characters(name, name)
        refuse_control_characters(name, value)
    if request.method in UNSAFE_METHODS and request.content_type in FORM_TYPES:
        for name, value in (await _form(request)).items():
            refuse_control_characters(name, name)
            refuse_control_characters(name, value if isinstance(value, str) else value.filename)
    return await handler(request)
