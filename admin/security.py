"""The session cookie, the CSRF token and safe redirects."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Sequence
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp_session import Session, get_session, new_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from cryptography.fernet import Fernet, MultiFernet

from admin.keys import CLOCK, HUB
from hub.i18n import DEFAULT_LANGUAGE, LANGUAGES, language_of
from hub.identity import Actor
from hub.settings import Settings
from hub.team import open_panel_session, revoke_panel_session

COOKIE_NAME = "relais_admin"
# The session's key holding the token of its record on the server (hub.team.panel_sessions).
TOKEN = "sid"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
HOME = "/admin/applications"


class _KeyRing(Fernet):
    """Encrypts with the newest key and decrypts with any, so that a cookie made before a key
    rotation stays valid while the older key is configured. aiohttp_session takes one key or a
    :class:`Fernet`, hence a Fernet that delegates decryption to a MultiFernet."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        super().__init__(keys[0])
        self._any = MultiFernet([Fernet(key) for key in keys])

    def decrypt(self, token: bytes | str, ttl: int | None = None) -> bytes:
        return self._any.decrypt(token, ttl)


def cookie_storage(settings: Settings) -> EncryptedCookieStorage:
    return EncryptedCookieStorage(
        _KeyRing(settings.fernet_keys("session")),
        cookie_name=COOKIE_NAME,
        path="/admin",
        httponly=True,
        samesite="Lax",
        secure=settings.secure_cookies,
        max_age=settings.session_max_age,
    )


def csrf_token(session: Session) -> str:
    """The session's token, made on first use (so even the sign-in forms carry one)."""
    token = session.get("csrf")
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def csrf_valid(session: Session, submitted: object) -> bool:
    expected = session.get("csrf")
    if not isinstance(expected, str) or not expected or not isinstance(submitted, str):
        return False
    return hmac.compare_digest(expected.encode(), submitted.encode())


async def start_session(request: web.Request, actor: Actor) -> Session:
    """A fresh session for a person who just signed in (never reuse the anonymous one), with its
    record on the server."""
    hub = request.config_dict[HUB]
    token = await open_panel_session(
        hub.sessions, hub.settings, actor, request.config_dict[CLOCK]()
    )
    previous = await get_session(request)
    lang = previous.get("lang")
    session = await new_session(request)
    session[TOKEN] = token
    session["lang"] = lang if lang in LANGUAGES else language_of(actor.locale)
    session["csrf"] = secrets.token_urlsafe(32)
    return session


async def end_session(request: web.Request) -> None:
    """Revoke the session on the server and empty the cookie, keeping only its language."""
    session = await get_session(request)
    await revoke_panel_session(
        request.config_dict[HUB].sessions, session.get(TOKEN), request.config_dict[CLOCK]()
    )
    forget(session)


def forget(session: Session) -> None:
    """Empty the cookie's session; keep speaking the person's language on the sign-in page."""
    lang = session.get("lang")
    session.invalidate()
    if lang in LANGUAGES:
        session["lang"] = lang


def safe_next(value: str | None, default: str = HOME) -> str:
    """Only a path inside the panel; anything else (another host, ``//x``, ``\\x``) → default."""
    if not value or not value.startswith("/admin") or "\\" in value:
        return default
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not parts.path.startswith("/admin"):
        return default
    if parts.path not in ("/admin", "/admin/") and not parts.path.startswith("/admin/"):
        return default
    return value


def request_language(request: web.Request, session: Session) -> str:
    """The session's choice, else the browser's first language we speak, else French."""
    lang = session.get("lang")
    if lang in LANGUAGES:
        return str(lang)
    for part in request.headers.get("Accept-Language", "").split(","):
        code = part.split(";")[0].strip().split("-")[0].lower()
        if code in LANGUAGES:
            return code
    return DEFAULT_LANGUAGE
