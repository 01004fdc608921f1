"""The panel's sessions on the server: opened at sign-in, checked on every request, revoked at
sign-out.

The browser's cookie is encrypted, but a copy of it would otherwise stay good until its own
``Max-Age``: each session therefore has a row (:class:`storage.models.PanelSession`) that
sign-out revokes and that ends after ``RELAIS_SESSION_IDLE_TIMEOUT`` seconds without a request or
``RELAIS_SESSION_MAX_AGE`` seconds after sign-in, whatever the cookie says. The cookie carries a
random token; the row keeps only its SHA-256, so the table alone opens no session.

Times come from the caller (``now``): the panel passes its clock, which tests set.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, update

from hub.errors import NotRecognised
from hub.identity import Actor, staff_actor
from hub.settings import Settings
from storage.db import Sessions
from storage.models import Firm, PanelSession, StaffUser

__all__ = ["EXPIRED", "open_panel_session", "resume_panel_session", "revoke_panel_session"]

# The ``reason`` of the NotRecognised raised for a session that ran out (idle or too old), so the
# panel can tell the person why they are asked to sign in again.
EXPIRED = "session_expired"

# ``last_seen_at`` is written at most this often: writing it on every request would make every
# page a database write (and, on SQLite, take the one write lock) for a precision the idle
# timeout does not need. The timeout is therefore kept to within this much.
TOUCH_EVERY = timedelta(seconds=60)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def open_panel_session(
    sessions: Sessions, settings: Settings, actor: Actor, now: datetime
) -> str:
    """A new session for ``actor``; returns the token the cookie carries. Sessions past their
    lifetime are deleted on the way (there is nothing left to refuse in them)."""
    token = secrets.token_urlsafe(32)
    async with sessions() as session, session.begin():
        await session.execute(
            delete(PanelSession).where(
                PanelSession.created_at < now - timedelta(seconds=settings.session_max_age)
            )
        )
        session.add(
            PanelSession(
                token_hash=_hash(token),
                firm_id=actor.firm_id,
                staff_user_id=actor.id,
                created_at=now,
                last_seen_at=now,
            )
        )
    return token


def _ended(row: PanelSession, settings: Settings, now: datetime) -> bool:
    too_old = now - row.created_at >= timedelta(seconds=settings.session_max_age)
    idle = now - row.last_seen_at >= timedelta(seconds=settings.session_idle_timeout)
    return too_old or idle


async def resume_panel_session(
    sessions: Sessions, settings: Settings, token: object, now: datetime
) -> Actor:
    """The person of a live session, or :class:`NotRecognised`: ``reason`` :data:`EXPIRED` for a
    session that ran out, ``stale_session`` for one unknown, revoked, or whose person has left."""
    if not isinstance(token, str) or not token:
        raise NotRecognised("no panel session token", reason="stale_session")
    async with sessions() as session, session.begin():
        row = await session.get(PanelSession, _hash(token))
        if row is None or row.revoked_at is not None:
            raise NotRecognised("panel session unknown or revoked", reason="stale_session")
        if _ended(row, settings, now):
            raise NotRecognised("panel session expired", reason=EXPIRED)
        firm = await session.get(Firm, row.firm_id)
        user = await session.get(StaffUser, row.staff_user_id)
        if firm is None or user is None or user.firm_id != firm.id or not user.active:
            raise NotRecognised("session user no longer exists", reason="stale_session")
        if now - row.last_seen_at >= TOUCH_EVERY:
            row.last_seen_at = now
        return staff_actor(firm, user)


async def revoke_panel_session(sessions: Sessions, token: object, now: datetime) -> None:
    """End the session for good: a copy of its cookie is refused from now on."""
    if not isinstance(token, str) or not token:
        return
    async with sessions() as session, session.begin():
        await session.execute(
            update(PanelSession)
            .where(PanelSession.token_hash == _hash(token), PanelSession.revoked_at.is_(None))
            .values(revoked_at=now)
        )
