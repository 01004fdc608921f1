"""Inviting a client contact as a guest on the firm's tenant (seed 003 §5, DESIGN.md workflow 5).

:func:`invite_contact` checks the rights, the address and the tenant's consent before any call to
Microsoft; recognises a contact who is already in the tenant instead of inviting them twice; else
sends a B2B invitation (``POST /invitations``) in the contact's language and records it.
:func:`refresh_invitation` (a person's "check again") and :func:`refresh_pending` (the background
refresher, as the system) read the guest's ``externalUserState``: once ``Accepted``, the contact
becomes a guest with its Entra object id, which is what lets the bot recognise them
(:func:`hub.identity.resolve`) and the portfolio dialog offer them applications.

Who may invite: administrators, rights managers, and staff who may activate applications on one
of the contact's dossiers (:func:`hub.rights.may_activate`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.graph import ConsentRequired, GraphError, GraphUser
from hub.audit import record
from hub.errors import (
    ConsentMissing,
    ExternalServiceError,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from hub.i18n import Translator, language_of
from hub.identity import Actor
from hub.portfolio import contact_by_id, dossier_by_code
from hub.rights import may_activate, require_activate, require_staff, sees_all_dossiers
from hub.services import Hub
from hub.tenant import consent_lost
from storage.models import Contact, ContactDossier, Dossier, Firm, Invitation, utcnow

log = logging.getLogger("relais.invitations")

SYSTEM = "system"
TEAMS_REDIRECT = "https://teams.microsoft.com/?tenantId={tenant}"
# Where an administrator grants consent (the panel's Tenant page), after the server's base URL.
CONSENT_PATH = "/admin/tenant"
# The background refresher: how many pending invitations per round, and how often each one.
REFRESH_BATCH = 50
REFRESH_EVERY = timedelta(minutes=5)

_EMAIL = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)


def valid_email(email: str) -> bool:
    """A deliverable-looking address: ``local@domain.tld``, no spaces, at most 254 characters."""
    return len(email) <= 254 and _EMAIL.match(email) is not None


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


def _view(
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


# --------------------------------------------------------------------------- reading


def _add_invitation(
    session: AsyncSession, actor: Actor, contact: Contact, **fields: Any
) -> Invitation:
    """A new invitation of ``contact`` by ``actor``, added to the session."""
    invitation = Invitation(
        firm_id=actor.firm_id, contact_id=contact.id, invited_by_id=actor.id, **fields
    )
    session.add(invitation)
    return invitation


async def _latest(session: AsyncSession, contact: Contact) -> Invitation | None:
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


async def _require_invite(
    session: AsyncSession, actor: Actor, contact: Contact, dossier_code: str | None
) -> None:
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
        return _view(
            contact, await _latest(session, contact), await _may_invite(session, actor, contact)
        )


# --------------------------------------------------------------------------- inviting


def _consent_missing(hub: Hub, contact_name: str) -> ConsentMissing:
    return ConsentMissing(
        f"the firm's tenant has not granted consent; {contact_name} cannot be invited",
        key="invitations.consent_missing",
        contact=contact_name,
        link=f"{hub.settings.base_url}{CONSENT_PATH}",
    )


def _reason(error: GraphError) -> str:
    """What Microsoft said, kept on the failed invitation."""
    if error.status == 0:
        return error.message
    return f"HTTP {error.status} {error.code}: {error.message}"


def _external(error: GraphError, contact_name: str) -> ExternalServiceError:
    key = "invitations.graph_busy" if error.passing else "invitations.graph_refused"
    return ExternalServiceError(
        f"Graph failed inviting {contact_name}: {error}",
        key=key,
        contact=contact_name,
        detail=error.message,
    )


def _accept(contact: Contact, invitation: Invitation, user_id: str) -> None:
    invitation.status = "accepted"
    invitation.error = ""
    contact.guest_state = "guest"
    contact.entra_object_id = user_id


async def invite_contact(
    hub: Hub, actor: Actor, contact_id: int, dossier_code: str | None = None
) -> InvitationView:
    """Invite the contact as a guest on the firm's tenant, or recognise them as one already.

    Raises :class:`InvalidInput` (``field="email"``) for an address that cannot be invited,
    :class:`ConsentMissing` when the firm's tenant has not granted consent (its message links to
    the page where an administrator grants it), :class:`ExternalServiceError` when Microsoft
    refuses or fails (the invitation is then recorded as failed, with Microsoft's reason).
    """
    async with hub.sessions() as session:
        contact = await contact_by_id(session, actor, contact_id)
        await _require_invite(session, actor, contact, dossier_code)
        firm = await session.get(Firm, actor.firm_id)
        assert firm is not None
        tenant, consent, firm_name = firm.tenant_id, firm.consent_state, firm.name
        email, name, locale = contact.email.strip(), contact.display_name, contact.locale
        if contact.guest_state == "guest" and contact.entra_object_id:
            return _view(contact, await _latest(session, contact), True, "already_guest")
    if not valid_email(email):
        raise InvalidInput(
            f"{email!r} is not a valid address",
            field="email",
            key="invitations.bad_email",
            contact=name,
            email=email,
        )
    if consent != "granted":
        raise _consent_missing(hub, name)

    t = Translator("hub", language_of(locale))
    try:
        found = await hub.graph.find_guest(tenant, email)
        sent = None
        if found is None:
            sent = await hub.graph.invite(
                tenant,
                email,
                name,
                TEAMS_REDIRECT.format(tenant=tenant),
                t("invitation.message", name=name, firm=firm_name, email=email),
                t("invitation.language"),
            )
    except ConsentRequired as error:
        async with hub.sessions() as session, session.begin():
            firm = await session.get(Firm, actor.firm_id, with_for_update=True)
            assert firm is not None
            await consent_lost(session, firm, actor.ref, f"{error.code}: {error.message}")
        raise _consent_missing(hub, name) from error
    except GraphError as error:
        async with hub.sessions() as session, session.begin():
            contact = await contact_by_id(session, actor, contact_id)
            invitation = _add_invitation(
                session,
                actor,
                contact,
                status="failed",
                error=_reason(error)[:2000],
                checked_at=utcnow(),
            )
            contact.guest_state = "failed"
            record(
                session,
                actor.firm_id,
                actor.ref,
                "invitation.failed",
                "contact",
                contact.id,
                contact=contact.email,
                error=invitation.error,
            )
        log.warning("invitation of contact %s failed: %s", contact_id, error)
        raise _external(error, name) from error

    async with hub.sessions() as session, session.begin():
        contact = await contact_by_id(session, actor, contact_id)
        now = utcnow()
        if sent is not None:
            invitation = _add_invitation(
                session,
                actor,
                contact,
                graph_invitation_id=sent.id,
                graph_user_id=sent.user_id,
                redeem_url=sent.redeem_url,
                status="pending",
                created_at=now,
                checked_at=now,
            )
            contact.guest_state = "invited"
            outcome = "invited"
            if sent.status == "Completed" and sent.user_id:
                _accept(contact, invitation, sent.user_id)
                outcome = "accepted"
            action, details = "invitation.sent", {"status": invitation.status}
        else:
            assert found is not None
            latest = await _latest(session, contact)
            if (
                latest is not None
                and latest.status == "pending"
                and latest.graph_user_id == found.id
            ):
                invitation = latest  # our own invitation, still waiting: nothing new to send
                invitation.checked_at = now
            else:
                invitation = _add_invitation(
                    session,
                    actor,
                    contact,
                    graph_user_id=found.id,
                    status="pending",
                    created_at=now,
                    checked_at=now,
                )
            if found.accepted:
                _accept(contact, invitation, found.id)
                outcome = "already_guest"
            else:
                contact.guest_state = "invited"
                outcome = "already_invited"
            action, details = "invitation.recognised", {"status": invitation.status}
        await session.flush()
        record(
            session,
            actor.firm_id,
            actor.ref,
            action,
            "contact",
            contact.id,
            contact=contact.email,
            invitation=invitation.id,
            **details,
        )
        return _view(contact, invitation, True, outcome)


# --------------------------------------------------------------------------- refreshing


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
        _accept(contact, invitation, user.id)
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
        await _require_invite(session, actor, contact, None)
        firm = await session.get(Firm, actor.firm_id)
        assert firm is not None
        tenant, consent, name = firm.tenant_id, firm.consent_state, contact.display_name
        user_id, status = invitation.graph_user_id, invitation.status
        if status != "pending" or not user_id:
            return _view(contact, invitation, True, "checked")
    if consent != "granted":
        raise _consent_missing(hub, name)
    try:
        user = await _graph_user(hub, tenant, user_id)
    except ConsentRequired as error:
        async with hub.sessions() as session, session.begin():
            firm = await session.get(Firm, actor.firm_id, with_for_update=True)
            assert firm is not None
            await consent_lost(session, firm, actor.ref, f"{error.code}: {error.message}")
        raise _consent_missing(hub, name) from error
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
        return _view(contact, invitation, True, outcome)


async def refresh_contact(hub: Hub, actor: Actor, contact_id: int) -> InvitationView:
    """ "Check again" from a contact's page: refresh their latest invitation."""
    async with hub.sessions() as session:
        contact = await contact_by_id(session, actor, contact_id)
        latest = await _latest(session, contact)
        if latest is None:
            await _require_invite(session, actor, contact, None)
            return _view(contact, None, True, "checked")
    return await refresh_invitation(hub, actor, latest.id)


async def refresh_pending(
    hub: Hub, *, limit: int = REFRESH_BATCH, every: timedelta = REFRESH_EVERY
) -> int:
    """The background refresher's round, as the system: the pending invitations not checked for
    ``every``, oldest check first, at most ``limit``; returns how many changed status."""
    if not hub.graph.configured:
        return 0
    due = utcnow() - every
    async with hub.sessions() as session:
        rows = (
            await session.execute(
                select(Invitation.id, Invitation.graph_user_id, Firm.id, Firm.tenant_id)
                .join(Firm, Firm.id == Invitation.firm_id)
                .where(
                    Invitation.status == "pending",
                    Invitation.graph_user_id != "",
                    Firm.consent_state == "granted",
                    func.coalesce(Invitation.checked_at, Invitation.created_at) <= due,
                )
                .order_by(
                    func.coalesce(Invitation.checked_at, Invitation.created_at), Invitation.id
                )
                .limit(limit)
            )
        ).all()
    changed = 0
    lost: set[int] = set()
    for invitation_id, user_id, firm_id, tenant in rows:
        if firm_id in lost:
            continue
        try:
            user = await _graph_user(hub, tenant, user_id)
        except ConsentRequired as error:
            lost.add(firm_id)
            async with hub.sessions() as session, session.begin():
                firm = await session.get(Firm, firm_id, with_for_update=True)
                if firm is not None:
                    await consent_lost(session, firm, SYSTEM, f"{error.code}: {error.message}")
            continue
        except GraphError as error:
            log.warning("invitation %s not refreshed: %s", invitation_id, error)
            if error.status == 0:
                break  # Graph unreachable: the next round will try again
            continue
        async with hub.sessions() as session, session.begin():
            invitation = await session.get(Invitation, invitation_id, with_for_update=True)
            if invitation is None or invitation.status != "pending":
                continue
            contact = await session.get(Contact, invitation.contact_id)
            if contact is None:
                continue
            if await _apply(
                session, firm_id, SYSTEM, invitation, contact, user, audit_unchanged=False
            ):
                changed += 1
    return changed
