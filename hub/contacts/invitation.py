"""A contact's invitation as a guest on the firm's tenant: how both faces see it, who may invite,
and the pieces inviting (:mod:`hub.contacts.invite`) and checking
(:mod:`hub.contacts.refresh`) share.

Who may invite: administrators, rights managers, and staff who may activate applications on one
of the contact's dossiers (:func:`hub.rights.may_activate`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.graph import GraphError
from hub.contacts.directory import contact_by_id
from hub.errors import ConsentMissing, NotFound, PermissionDenied
from hub.identity import Actor
from hub.portfolio import dossier_by_code
from hub.rights import may_activate, require_activate, require_staff, sees_all_dossiers
from hub.services import Hub
from hub.tenant import consent_lost
from storage.models import Contact, ContactDossier, Dossier, Firm, Invitation

# Where an administrator grants consent (the panel's Tenant page), after the server's base URL.
CONSENT_PATH = "/admin/tenant"


@dataclass(frozen=True)
class InvitationView:
    """A contact's invitation as both faces show it."""

    contact_id: int
    contact_name: str
    email: str
    guest_state: str  # none | invited | guest | failed
    invitation_id: int | None = None
    status: str | None = None  # pending | accepted | failed (None: never invited)
    created_at: datetime | None = None
    checked_at: datetime | None = None
    redeem_url: str = ""
    error: str = ""
    may_invite: bool = False
    # What the last action did: invited | already_guest | already_invited | accepted | checked
    outcome: str = ""


def view(
    contact: Contact, invitation: Invitation | None, may_invite: bool, outcome: str = ""
) -> InvitationView:
    return InvitationView(
        contact_id=contact.id,
        contact_name=contact.display_name,
        email=contact.email,
        guest_state=contact.guest_state,
        invitation_id=invitation.id if invitation else None,
        status=invitation.status if invitation else None,
        created_at=invitation.created_at if invitation else None,
        checked_at=invitation.checked_at if invitation else None,
        redeem_url=invitation.redeem_url if invitation else "",
        error=invitation.error if invitation else "",
        may_invite=may_invite,
        outcome=outcome,
    )


def add_invitation(
    session: AsyncSession, actor: Actor, contact: Contact, **fields: Any
) -> Invitation:
    """A new invitation of ``contact`` by ``actor``, added to the session."""
    invitation = Invitation(
        firm_id=actor.firm_id, contact_id=contact.id, invited_by_id=actor.id, **fields
    )
    session.add(invitation)
    return invitation


def accept(contact: Contact, invitation: Invitation, user_id: str) -> None:
    """The guest accepted: the bot can now recognise them (:func:`hub.identity.resolve`)."""
    invitation.status = "accepted"
    invitation.error = ""
    contact.guest_state = "guest"
    contact.entra_object_id = user_id


async def latest(session: AsyncSession, contact: Contact) -> Invitation | None:
    result: Invitation | None = await session.scalar(
        select(Invitation)
        .where(Invitation.firm_id == contact.firm_id, Invitation.contact_id == contact.id)
        .order_by(Invitation.created_at.desc(), Invitation.id.desc())
        .limit(1)
    )
    return result


async def _may_invite(session: AsyncSession, actor: Actor, contact: Contact) -> bool:
    if not actor.is_staff:
        return False
    if sees_all_dossiers(actor):
        return True
    dossiers = await session.scalars(
        select(Dossier)
        .join(ContactDossier, ContactDossier.dossier_id == Dossier.id)
        .where(ContactDossier.firm_id == actor.firm_id, ContactDossier.contact_id == contact.id)
    )
    return any(may_activate(actor, dossier) for dossier in dossiers)


async def require_invite(
    session: AsyncSession, actor: Actor, contact: Contact, dossier_code: str | None
) -> None:
    """The actor may invite the contact (on ``dossier_code`` when given), or an error says why."""
    require_staff(actor)
    if dossier_code:
        dossier = await dossier_by_code(session, actor, dossier_code)
        linked = await session.scalar(
            select(func.count())
            .select_from(ContactDossier)
            .where(ContactDossier.contact_id == contact.id, ContactDossier.dossier_id == dossier.id)
        )
        if not linked:
            raise NotFound(
                f"contact {contact.id} is not on dossier {dossier_code}", key="portfolio.no_contact"
            )
        require_activate(actor, dossier)
        return
    if not await _may_invite(session, actor, contact):
        raise PermissionDenied(
            f"{actor.ref} may not invite contact {contact.id}",
            key="invitations.rights",
            contact=contact.display_name,
        )


async def contact_invitation(hub: Hub, actor: Actor, contact_id: int) -> InvitationView:
    """The contact's latest invitation (if any), and whether the actor may invite them."""
    require_staff(actor)
    async with hub.sessions() as session:
        contact = await contact_by_id(session, actor, contact_id)
        return view(
            contact, await latest(session, contact), await _may_invite(session, actor, contact)
        )


def consent_missing(hub: Hub, contact_name: str) -> ConsentMissing:
    return ConsentMissing(
        f"the firm's tenant has not granted consent; {contact_name} cannot be invited",
        key="invitations.consent_missing",
        contact=contact_name,
        link=f"{hub.settings.base_url}{CONSENT_PATH}",
    )


async def note_consent_lost(hub: Hub, firm_id: int, actor_ref: str, error: GraphError) -> None:
    """Graph refused for lack of consent: record it on the firm, in a transaction of its own."""
    async with hub.sessions() as session, session.begin():
        firm = await session.get(Firm, firm_id, with_for_update=True)
        if firm is not None:
            await consent_lost(session, firm, actor_ref, f"{error.code}: {error.message}")
