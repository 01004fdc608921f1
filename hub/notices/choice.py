"""How each dossier master hears of failed sends, their own choice from the panel: ``immediate``
(one grouped message per round), ``daily`` (one digest a day) or ``off``."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from hub.audit import record
from hub.errors import InvalidInput, PermissionDenied
from hub.identity import Actor
from hub.services import Hub
from storage.models import StaffUser

IMMEDIATE, DAILY, OFF = "immediate", "daily", "off"
CHOICES = (IMMEDIATE, DAILY, OFF)


async def failure_notices_of(hub: Hub, actor: Actor) -> str:
    """The signed-in person's own choice (``immediate`` for contacts, who have none)."""
    if not actor.is_staff:
        return IMMEDIATE
    async with hub.sessions() as session:
        choice = await session.scalar(
            select(StaffUser.failure_notices).where(
                StaffUser.id == actor.id, StaffUser.firm_id == actor.firm_id
            )
        )
    return choice if choice in CHOICES else IMMEDIATE


async def set_failure_notices(hub: Hub, actor: Actor, choice: str) -> str:
    """A staff member chooses how they hear of their dossiers' failed sends; only their own."""
    if not actor.is_staff:
        raise PermissionDenied("contacts have no failure notices", key="notices.staff_only")
    choice = (choice or "").strip()
    if choice not in CHOICES:
        raise InvalidInput(
            f"unknown choice {choice!r}", field="failure_notices", key="notices.bad_choice"
        )
    async with hub.sessions() as session, session.begin():
        user = await session.scalar(
            select(StaffUser).where(StaffUser.id == actor.id, StaffUser.firm_id == actor.firm_id)
        )
        if user is None:
            raise PermissionDenied("no such staff member", key="notices.staff_only")
        before = user.failure_notices
        if before == choice:
            return choice
        user.failure_notices = choice
        if choice == DAILY:
            # The first digest is the next one at the digest hour, not one at once.
            user.last_digest_at = datetime.now(UTC)
        record(
            session,
            actor.firm_id,
            actor.ref,
            "staff.failure_notices",
            "staff_user",
            actor.id,
            before=before,
            after=choice,
        )
    return choice
