"""Inviting a client contact as a guest on the firm's tenant (seed 003 §5, DESIGN.md workflow 5).

:func:`invite_contact` checks the rights, the address and the tenant's consent before any call to
Microsoft; recognises a contact who is already in the tenant instead of inviting them twice; else
sends a B2B invitation (``POST /invitations``) in the contact's language and records it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from connectors.graph import ConsentRequired, GraphError, GraphUser, SentInvitation
from hub.audit import record
from hub.contacts.addresses import valid_email
from hub.contacts.directory import contact_by_id
from hub.contacts.invitation import (
    InvitationView,
    accept,
    add_invitation,
    consent_missing,
    latest,
    note_consent_lost,
    require_invite,
    view,
)
from hub.errors import ExternalServiceError, InvalidInput
from hub.i18n import Translator, language_of
from hub.identity import Actor
from hub.services import Hub
from storage.models import Contact, Firm, Invitation, utcnow

log = logging.getLogger(__name__)

TEAMS_REDIRECT = "https://teams.microsoft.com/?tenantId={tenant}"


@dataclass(frozen=True)
class _Request:
    """What the call to Microsoft needs, read before it (no session is held open across it)."""

    contact_id: int
    tenant: str
    consent: str
    firm_name: str
    email: str
    name: str
    locale: str


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
        await require_invite(session, actor, contact, dossier_code)
        firm = await session.get(Firm, actor.firm_id)
        assert firm is not None
        if contact.guest_state == "guest" and contact.entra_object_id:
            return view(contact, await latest(session, contact), True, "already_guest")
        request = _Request(
            contact_id,
            firm.tenant_id,
            firm.consent_state,
            firm.name,
            contact.email.strip(),
            contact.display_name,
            contact.locale,
        )
    if not valid_email(request.email):
        raise InvalidInput(
            f"{request.email!r} is not a valid address",
            field="email",
            key="invitations.bad_email",
            contact=request.name,
            email=request.email,
        )
    if request.consent != "granted":
        raise consent_missing(hub, request.name)
    found, sent = await _ask_microsoft(hub, actor, request)
    async with hub.sessions() as session, session.begin():
        contact = await contact_by_id(session, actor, contact_id)
        if sent is not None:
            invitation, outcome = _record_sent(session, actor, contact, sent)
            action = "invitation.sent"
        else:
            assert found is not None
            invitation, outcome = await _record_found(session, actor, contact, found)
            action = "invitation.recognised"
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
            status=invitation.status,
        )
        return view(contact, invitation, True, outcome)


async def _ask_microsoft(
    hub: Hub, actor: Actor, request: _Request
) -> tuple[GraphUser | None, SentInvitation | None]:
    """The guest Microsoft already knows at this address, or else the invitation just sent.

    A refusal for lack of consent is recorded on the firm; any other failure as a failed
    invitation; both then raise what the person is told.
    """
    t = Translator("hub", language_of(request.locale))
    tenant, email, name = request.tenant, request.email, request.name
    try:
        found = await hub.graph.find_guest(tenant, email)
        if found is not None:
            return found, None
        sent = await hub.graph.invite(
            tenant,
            email,
            name,
            TEAMS_REDIRECT.format(tenant=tenant),
            t("invitation.message", name=name, firm=request.firm_name, email=email),
            t("invitation.language"),
        )
        return None, sent
    except ConsentRequired as error:
        await note_consent_lost(hub, actor.firm_id, actor.ref, error)
        raise consent_missing(hub, name) from error
    except GraphError as error:
        await _record_failure(hub, actor, request.contact_id, error)
        raise _external(error, name) from error


async def _record_failure(hub: Hub, actor: Actor, contact_id: int, error: GraphError) -> None:
    async with hub.sessions() as session, session.begin():
        contact = await contact_by_id(session, actor, contact_id)
        invitation = add_invitation(
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


def _record_sent(
    session: AsyncSession, actor: Actor, contact: Contact, sent: SentInvitation
) -> tuple[Invitation, str]:
    """The invitation Microsoft just sent (already accepted when the guest existed)."""
    now = utcnow()
    invitation = add_invitation(
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
    if sent.status == "Completed" and sent.user_id:
        accept(contact, invitation, sent.user_id)
        return invitation, "accepted"
    return invitation, "invited"


async def _record_found(
    session: AsyncSession, actor: Actor, contact: Contact, found: GraphUser
) -> tuple[Invitation, str]:
    """A guest Microsoft already had at this address: ours still waiting, or one to note."""
    now = utcnow()
    invitation = await latest(session, contact)
    if (
        invitation is not None
        and invitation.status == "pending"
        and invitation.graph_user_id == found.id
    ):
        invitation.checked_at = now  # our own invitation, still waiting: nothing new to send
    else:
        invitation = add_invitation(
            session,
            actor,
            contact,
            graph_user_id=found.id,
            status="pending",
            created_at=now,
            checked_at=now,
        )
    if found.accepted:
        accept(contact, invitation, found.id)
        return invitation, "already_guest"
    contact.guest_state = "invited"
    return invitation, "already_invited"
