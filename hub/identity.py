"""Who is acting: a tenant id maps to a firm, an Entra object id to a staff user or a contact.

A module of the hub's shared kernel, beside :mod:`hub.rights` and :mod:`hub.errors`, not a
capability: every use-case of every capability receives the :class:`Actor` it builds, and the
faces resolve the person through it (the bot per activity, the panel at sign-in via
:mod:`hub.team` and per request from its session's record, :mod:`hub.team.panel_sessions`); the API's firm tokens stand for an Actor too
(:mod:`hub.tokens`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from hub.errors import NotRecognised
from storage.db import Sessions
from storage.models import Contact, Firm, StaffUser


@dataclass(frozen=True)
class Actor:
    """The acting person, as every use-case receives it."""

    firm_id: int
    firm_name: str
    kind: str  # "staff" | "contact"
    id: int
    display_name: str
    locale: str
    role: str = ""  # staff: administrator | collaborator
    rights_manager: bool = False

    @property
    def ref(self) -> str:
        """How the audit trail and stored references name this person."""
        return f"{self.kind}:{self.id}"

    @property
    def is_staff(self) -> bool:
        return self.kind == "staff"

    @property
    def is_admin(self) -> bool:
        return self.kind == "staff" and self.role == "administrator"


def staff_actor(firm: Firm, user: StaffUser) -> Actor:
    return Actor(
        firm_id=firm.id,
        firm_name=firm.name,
        kind="staff",
        id=user.id,
        display_name=user.display_name,
        locale=user.locale,
        role=user.role,
        rights_manager=user.rights_manager,
    )


async def resolve(sessions: Sessions, tenant_id: str | None, object_id: str | None) -> Actor:
    """Find the firm by tenant and the person by object id, or raise :class:`NotRecognised`.

    ``reason`` says which of the two was unknown, for the log; the person is only told that they
    are not recognised, never whether the firm exists.
    """
    if not tenant_id or not object_id:
        raise NotRecognised("no tenant or user id", reason="missing_ids")
    async with sessions() as session:
        firm = await session.scalar(select(Firm).where(Firm.tenant_id == tenant_id))
        if firm is None:
            raise NotRecognised(f"unknown tenant {tenant_id}", reason="unknown_tenant")
        user = await session.scalar(
            select(StaffUser).where(
                StaffUser.firm_id == firm.id,
                StaffUser.entra_object_id == object_id,
                StaffUser.active.is_(True),
            )
        )
        if user is not None:
            return staff_actor(firm, user)
        contact = await session.scalar(
            select(Contact).where(Contact.firm_id == firm.id, Contact.entra_object_id == object_id)
        )
        if contact is not None:
            return Actor(
                firm_id=firm.id,
                firm_name=firm.name,
                kind="contact",
                id=contact.id,
                display_name=contact.display_name,
                locale=contact.locale,
            )
    raise NotRecognised(
        f"unknown person {object_id} in tenant {tenant_id}", reason="unknown_person"
    )


async def staff_of_firm(sessions: Sessions, firm_id: int) -> list[StaffUser]:
    """Active staff of a firm, administrators first (the demo sign-in page lists them)."""
    async with sessions() as session:
        rows = await session.scalars(
            select(StaffUser)
            .where(StaffUser.firm_id == firm_id, StaffUser.active.is_(True))
            .order_by(StaffUser.role, StaffUser.display_name)
        )
        return list(rows)
