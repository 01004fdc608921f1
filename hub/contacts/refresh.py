"""Checking an invitation: has the guest accepted yet?

:func:`refresh_invitation` (a person's "check again") and :func:`refresh_pending` (the background
refresher, as the system) read the guest's ``externalUserState``: once ``Accepted``, the contact
becomes a guest with its Entra object id, which is what lets the bot recognise them
(:func:`hub.identity.resolve`) and the portfolio dialog offer them applications.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.graph import ConsentRequired, GraphError, GraphUser
from hub.audit import record
from hub.contacts.directory import contact_by_id
from hub.contacts.invitation import (
    InvitationView,
    accept,
    consent_missing,
    latest,
    note_consent_lost,
    require_invite,
    view,
)
from hub.errors import ExternalServiceError, NotFound
from hub.identity import Actor
from hub.services import Hub
from storage.models import Contact, Firm, Invitation, utcnow

log = logging.getLogger(__name__)

SYSTEM = "system"
# The background refresher: how many pending invitations per round, and how often each one.
REFRESH_BATCH = 50
REFRESH_EVERY = timedelta(minutes=5)


async def _apply(
    session: AsyncSession,
    firm_id: int,
    actor_ref: str,
    invitation: Invitation,
    contact: Contact,
    user: GraphUser | None,
    *,
    audit_unchanged: bool,
) -> bool:
    """Record what Graph said about the invited user; True when the status changed."""
    before = invitation.status
    invitation.checked_at = utcnow()
    if user is None:
        invitation.status = "failed"
        invitation.error = "the guest account no longer exists in the tenant"
        contact.guest_state = "failed"
        contact.entra_object_id = None
    elif user.accepted:
        accept(contact, invitation, user.id)
    else:
        invitation.status = "pending"
        if contact.guest_state != "invited":
            contact.guest_state = "invited"
    changed = invitation.status != before
    if changed:
        action = {"accepted": "invitation.accepted", "failed": "invitation.failed"}.get(
            invitation.status, "invitation.pending"
        )
        record(
            session,
            firm_id,
            actor_ref,
            action,
            "contact",
            contact.id,
            contact=contact.email,
            invitation=invitation.id,
            **({"error": invitation.error} if invitation.status == "failed" else {}),
        )
    elif audit_unchanged:
        record(
            session,
            firm_id,
            actor_ref,
            "invitation.checked",
            "contact",
            contact.id,
            contact=contact.email,
            invitation=invitation.id,
            status=invitation.status,
        )
    return changed


async def _graph_user(hub: Hub, tenant: str, user_id: str) -> GraphUser | None:
    try:
        return await hub.graph.get_invitation_user(tenant, user_id)
    except GraphError as error:
        if error.status == 404:
            return None
        raise


async def refresh_invitation(hub: Hub, actor: Actor, invitation_id: int) -> InvitationView:
    """ "Check again": ask Graph whether the guest accepted, and record it."""
    async with hub.sessions() as session:
        invitation = await session.scalar(
            select(Invitation).where(
                Invitation.firm_id == actor.firm_id, Invitation.id == invitation_id
            )
        )
        if invitation is None:
            raise NotFound(f"no invitation {invitation_id}", key="invitations.none")
        contact = await contact_by_id(session, actor, invitation.contact_id)
        await require_invite(session, actor, contact, None)
        firm = await session.get(Firm, actor.firm_id)
        assert firm is not None
        tenant, consent, name = firm.tenant_id, firm.consent_state, contact.display_name
        user_id, status = invitation.graph_user_id, invitation.status
        if status != "pending" or not user_id:
            return view(contact, invitation, True, "checked")
    if consent != "granted":
        raise consent_missing(hub, name)
    try:
        user = await _graph_user(hub, tenant, user_id)
    except ConsentRequired as error:
        await note_consent_lost(hub, actor.firm_id, actor.ref, error)
        raise consent_missing(hub, name) from error
    except GraphError as error:
        raise ExternalServiceError(
            f"Graph failed checking {name}: {error}",
            key="invitations.check_failed",
            contact=name,
            detail=error.message,
        ) from error
    async with hub.sessions() as session, session.begin():
        invitation = await session.get(Invitation, invitation_id, with_for_update=True)
        contact = await contact_by_id(session, actor, contact.id)
        if invitation is None or invitation.firm_id != actor.firm_id:
            raise NotFound(f"no invitation {invitation_id}", key="invitations.none")
        changed = await _apply(
            session, actor.firm_id, actor.ref, invitation, contact, user, audit_unchanged=True
        )
        outcome = "accepted" if changed and invitation.status == "accepted" else "checked"
        return view(contact, invitation, True, outcome)


async def refresh_contact(hub: Hub, actor: Actor, contact_id: int) -> InvitationView:
    """ "Check again" from a contact's page: refresh their latest invitation."""
    async with hub.sessions() as session:
        contact = await contact_by_id(session, actor, contact_id)
        last = await latest(session, contact)
        if last is None:
            await require_invite(session, actor, contact, None)
            return view(contact, None, True, "checked")
    return await refresh_invitation(hub, actor, last.id)


async def refresh_pending(
    hub: Hub, *, limit: int = REFRESH_BATCH, every: timedelta = REFRESH_EVERY
) -> int:
    """The background refresher's round, as the system: the pending invitations not checked for
    ``every``, oldest check first, at most ``limit``; returns how many changed status."""
    if not hub.graph.configured:
        return 0
    changed = 0
    lost: set[int] = set()
    for invitation_id, user_id, firm_id, tenant in await _due(hub, utcnow() - every, limit):
        if firm_id in lost:
            continue  # one refusal for lack of consent says it for the firm's other invitations
        try:
            user = await _graph_user(hub, tenant, user_id)
        except ConsentRequired as error:
            lost.add(firm_id)
            await note_consent_lost(hub, firm_id, SYSTEM, error)
            continue
        except GraphError as error:
            log.warning("invitation %s not refreshed: %s", invitation_id, error)
            if error.status == 0:
                break  # Graph unreachable: the next round will try again
            continue
        if await _record_check(hub, invitation_id, firm_id, user):
            changed += 1
    return changed


async def _due(hub: Hub, due: datetime, limit: int) -> list[tuple[int, str, int, str]]:
    """(invitation, Graph user, firm, tenant) of the pending invitations last checked by ``due``
    on firms with consent, oldest check first."""
    checked = func.coalesce(Invitation.checked_at, Invitation.created_at)
    async with hub.sessions() as session:
        rows = await session.execute(
            select(Invitation.id, Invitation.graph_user_id, Firm.id, Firm.tenant_id)
            .join(Firm, Firm.id == Invitation.firm_id)
            .where(
                Invitation.status == "pending",
                Invitation.graph_user_id != "",
                Firm.consent_state == "granted",
                checked <= due,
            )
            .order_by(checked, Invitation.id)
            .limit(limit)
        )
        return [(i, u, f, t) for i, u, f, t in rows]


async def _record_check(hub: Hub, invitation_id: int, firm_id: int, user: GraphUser | None) -> bool:
    """What the refresher learnt about one invitation, unless it changed meanwhile; True when its
    status changed."""
    async with hub.sessions() as session, session.begin():
        invitation = await session.get(Invitation, invitation_id, with_for_update=True)
        if invitation is None or invitation.status != "pending":
            return False
        contact = await session.get(Contact, invitation.contact_id)
        if contact is None:
            return False
        return await _apply(
            session, firm_id, SYSTEM, invitation, contact, user, audit_unchanged=False
        )
