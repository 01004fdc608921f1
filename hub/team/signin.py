"""Signing in to the admin panel: who may, and the audit trail of it.

The panel is for firm staff. Microsoft Entra proves the tenant and the person (``tid``/``oid`` of
the id token); in demo mode a local "sign in as" list stands in for Entra, limited to the demo
firm. Either way the person is resolved through :func:`hub.identity.resolve`, and a guest contact
of the firm is refused like a stranger: the panel is not theirs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select

from hub.audit import record
from hub.errors import NotRecognised
from hub.identity import Actor, resolve, staff_of_firm
from hub.settings import DEMO_TENANT_ID
from storage.db import Sessions
from storage.models import Firm

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoChoice:
    """One entry of the demo "sign in as" list."""

    object_id: str
    display_name: str
    role: str  # administrator | collaborator
    rights_manager: bool


async def demo_choices(sessions: Sessions) -> list[DemoChoice]:
    """The demo firm's active staff, administrators first; empty when the demo is not seeded."""
    async with sessions() as session:
        firm_id = await session.scalar(select(Firm.id).where(Firm.tenant_id == DEMO_TENANT_ID))
    if firm_id is None:
        return []
    return [
        DemoChoice(u.entra_object_id, u.display_name, u.role, u.rights_manager)
        for u in await staff_of_firm(sessions, firm_id)
    ]


async def sign_in(
    sessions: Sessions, tenant_id: str | None, object_id: str | None, method: str
) -> Actor:
    """Resolve the person and record the sign-in, or raise :class:`NotRecognised`.

    ``method`` is ``entra`` or ``demo``; it goes to the audit trail.
    """
    try:
        actor = await resolve(sessions, tenant_id, object_id)
    except NotRecognised as exc:
        log.info("panel sign-in refused (%s): %s", method, exc)
        raise
    if not actor.is_staff:
        log.info("panel sign-in refused (%s): contact %s is not firm staff", method, actor.id)
        raise NotRecognised("a contact cannot use the admin panel", reason="not_staff")
    async with sessions() as session, session.begin():
        record(
            session,
            actor.firm_id,
            actor.ref,
            "panel.signed_in",
            "staff_user",
            actor.id,
            method=method,
        )
    return actor


async def sign_out(sessions: Sessions, actor: Actor) -> None:
    async with sessions() as session, session.begin():
        record(session, actor.firm_id, actor.ref, "panel.signed_out", "staff_user", actor.id)
