"""The firm's API tokens for the document REST API (``/api/v1``).

A token is shown once, when it is created; only its SHA-256 is kept, so neither the database nor
the audit trail nor a log can give it back. Administrators create, list and revoke them. A request
that carries a valid token acts as the firm through an :class:`~hub.identity.Actor` of kind
``"token"`` whose id is the token's, so the audit trail says which token did what.

Its own small module, not a part of :mod:`hub.documents`: a token says who a REST API caller is
(authentication and its administration), whatever the route asks for.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from hub.audit import record
from hub.errors import InvalidInput, NotFound, NotRecognised
from hub.identity import Actor
from hub.rights import require_admin
from hub.services import Hub
from storage.models import ApiToken, Firm, StaffUser, utcnow

PREFIX = "rls_"
MAX_LABEL = 200
# ``last_used_at`` is bookkeeping, not an event: written at most this often per token, so a busy
# integration does not turn every upload into an extra write.
LAST_USED_PRECISION = timedelta(minutes=1)


@dataclass(frozen=True)
class NewToken:
    id: int
    label: str
    secret: str  # shown once, never stored


@dataclass(frozen=True)
class TokenRow:
    id: int
    label: str
    created_by: str  # the creator's name, "" when they were removed
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _label(raw: str) -> str:
    label = " ".join(raw.split())
    if not label:
        raise InvalidInput("a token needs a label", field="label", key="tokens.label_missing")
    if len(label) > MAX_LABEL:
        raise InvalidInput(
            "label too long", field="label", key="tokens.label_too_long", maximum=MAX_LABEL
        )
    return label


async def create_token(hub: Hub, actor: Actor, label: str) -> NewToken:
    """A new token for the actor's firm; the returned ``secret`` is the only copy there is."""
    require_admin(actor)
    label = _label(label)
    secret = PREFIX + secrets.token_urlsafe(32)
    async with hub.sessions() as session, session.begin():
        token = ApiToken(
            firm_id=actor.firm_id,
            label=label,
            token_hash=token_hash(secret),
            created_by_id=actor.id,
            created_at=utcnow(),
        )
        session.add(token)
        await session.flush()
        record(session, actor.firm_id, actor.ref, "api_token.created", "api_token", token.id,
               label=label)  # fmt: skip
    return NewToken(token.id, label, secret)


async def list_tokens(hub: Hub, actor: Actor) -> list[TokenRow]:
    """The firm's tokens, live ones first, newest first."""
    require_admin(actor)
    async with hub.sessions() as session:
        rows = await session.execute(
            select(ApiToken, StaffUser.display_name)
            .outerjoin(StaffUser, StaffUser.id == ApiToken.created_by_id)
            .where(ApiToken.firm_id == actor.firm_id)
            .order_by(ApiToken.revoked, ApiToken.created_at.desc(), ApiToken.id.desc())
        )
        return [
            TokenRow(t.id, t.label, name or "", t.created_at, t.last_used_at, t.revoked)
            for t, name in rows
        ]


async def revoke_token(hub: Hub, actor: Actor, token_id: int) -> str:
    """Revoke at once (the next request with it gets 401); returns the token's label."""
    require_admin(actor)
    async with hub.sessions() as session, session.begin():
        token = await session.scalar(
            select(ApiToken).where(ApiToken.firm_id == actor.firm_id, ApiToken.id == token_id)
        )
        if token is None:
            raise NotFound(f"no token {token_id} in firm {actor.firm_id}", key="tokens.none")
        if not token.revoked:
            token.revoked = True
            record(session, actor.firm_id, actor.ref, "api_token.revoked", "api_token", token.id,
                   label=token.label)  # fmt: skip
        return token.label


async def authenticate_token(hub: Hub, secret: str) -> Actor:
    """The firm acting through this token, or :class:`NotRecognised` (unknown or revoked: the
    caller is told the same thing either way)."""
    if not secret.startswith(PREFIX) or len(secret) > 200:
        raise NotRecognised("not a Relais API token", reason="malformed_token")
    now = utcnow()
    async with hub.sessions() as session, session.begin():
        found = (
            await session.execute(
                select(ApiToken, Firm)
                .join(Firm, Firm.id == ApiToken.firm_id)
                .where(ApiToken.token_hash == token_hash(secret))
            )
        ).first()
        if found is None:
            raise NotRecognised("unknown API token", reason="unknown_token")
        token, firm = found
        if token.revoked:
            raise NotRecognised(f"API token {token.id} is revoked", reason="revoked_token")
        last = token.last_used_at
        if last is None or now - last >= LAST_USED_PRECISION:
            token.last_used_at = now
        return Actor(
            firm_id=firm.id,
            firm_name=firm.name,
            kind="token",
            id=token.id,
            display_name=token.label,
            locale=firm.default_locale,
        )
