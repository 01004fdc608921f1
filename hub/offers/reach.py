"""Reaching the contact: the delivery of offers to Teams, decided here and carried by the face's
:class:`~hub.ports.TeamsPort`.

A contact the bot has talked to is reached through the stored conversation reference. For one it
never met, Relais is installed for them through Graph, then the personal chat is opened. Opening
a chat needs the Bot Connector's service URL and the bot's account, which Teams only gives in an
activity: a turn in Teams passes its own (:class:`~hub.ports.Reach`); from the panel they
come from a conversation the bot already has in the firm (:func:`stored_reach`). An offer that
cannot be delivered stays pending, recorded with the reason (:func:`offer_unreachable`) and
reported to the caller (:class:`Undelivered`). The port's sender retries what Teams throttles.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from connectors.graph import ConsentRequired, GraphError
from hub.audit import record
from hub.conversations import reference_for, remember
from hub.errors import Conflict, ConsentMissing, ExternalServiceError, NotFound, RelaisError
from hub.identity import Actor
from hub.portfolio import eligible
from hub.ports import Offer, Reach, TeamsPort, TeamsUnreachable
from hub.rights import require_staff
from hub.services import Hub
from storage.models import Contact, ContactAccess, ConversationRef, Firm

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Undelivered:
    """An offer that stays pending, and why (a message key of both faces, with its values)."""

    offer: Offer
    key: str
    params: dict[str, str] = field(default_factory=dict)


class _NotDelivered(Exception):
    def __init__(self, key: str, why: str, **params: str) -> None:
        super().__init__(why)
        self.key, self.why, self.params = key, why, params


async def deliver_offers(
    hub: Hub, actor: Actor, offers: Sequence[Offer], reach: Reach | None = None
) -> tuple[Undelivered, ...]:
    """Carry the offers to their contacts in Teams (``reach``: where the bot speaks from, when a
    turn in Teams gives it). The offers that stay pending come back, each recorded with its
    reason; without a Teams port (a server that runs no bot) every offer stays pending."""
    undelivered: list[Undelivered] = []
    found: list[Reach | None] = [reach] if reach is not None else []
    for offer in offers:
        try:
            if hub.teams is None:
                raise _NotDelivered("offers.undelivered.no_bot", "no bot on this server")
            await _deliver(hub, hub.teams, actor, offer, found)
        except _NotDelivered as failure:
            log.warning("offer %s not delivered: %s", offer.access_id, failure.why)
            await offer_unreachable(
                hub, actor, offer.access_id, failure.why, failure.key, **failure.params
            )
            undelivered.append(Undelivered(offer, failure.key, dict(failure.params)))
    return tuple(undelivered)


async def _reach(hub: Hub, actor: Actor, found: list[Reach | None]) -> Reach | None:
    """The turn's reach, else a stored one, looked up once per delivery."""
    if not found:
        found.append(await stored_reach(hub, actor))
    return found[0]


async def _deliver(
    hub: Hub, teams: TeamsPort, actor: Actor, offer: Offer, found: list[Reach | None]
) -> None:
    reference = await reference_for(hub.sessions, actor.firm_id, f"contact:{offer.contact_id}")
    try:
        if reference is not None:
            activity_id = await teams.send_offer(reference, offer, actor.firm_name)
        else:
            reach = await _reach(hub, actor, found)
            if reach is None:
                raise _NotDelivered(
                    "offers.undelivered.no_reach",
                    "nobody of the firm has talked to the bot yet",
                    contact=offer.contact_name,
                )
            if teams.teams_app_id:
                await install_for_contact(hub, actor, offer.contact_id, teams.teams_app_id)
            reference, activity_id = await teams.open_with_offer(reach, offer, actor.firm_name)
            await remember_contact_conversation(hub, actor, offer.contact_id, reference)
    except TeamsUnreachable as error:
        raise _NotDelivered(
            "offers.undelivered.teams",
            str(error),
            contact=offer.contact_name,
            detail=f"{error.status or '—'}",
        ) from error
    except RelaisError as error:
        params = {k: str(v) for k, v in error.params.items() if isinstance(v, str | int)}
        params.setdefault("contact", offer.contact_name)
        raise _NotDelivered(error.key, str(error), **params) from error
    await remember_offer_message(hub, actor, offer.access_id, activity_id)


async def stored_reach(hub: Hub, actor: Actor) -> Reach | None:
    """The actor's own conversation with the bot, else the most recent one in the firm: its
    service URL and bot account open a chat with a contact. None when nobody of the firm ever
    talked to the bot (Teams gives a bot its service URL only in an activity)."""
    async with hub.sessions() as session:
        rows = await session.execute(
            select(ConversationRef.reference, Firm.tenant_id)
            .join(Firm, Firm.id == ConversationRef.firm_id)
            .where(ConversationRef.firm_id == actor.firm_id)
            .order_by(
                (ConversationRef.person == actor.ref).desc(),
                ConversationRef.person.like("staff:%").desc(),
                ConversationRef.updated_at.desc(),
                ConversationRef.id.desc(),
            )
            .limit(5)
        )
        for reference, tenant in rows:
            service_url = str((reference or {}).get("serviceUrl") or "")
            bot = (reference or {}).get("bot") or {}
            if service_url and bot.get("id"):
                conversation = reference.get("conversation") or {}
                return Reach(service_url, dict(bot), str(conversation.get("tenantId") or tenant))
    return None


async def install_for_contact(hub: Hub, actor: Actor, contact_id: int, teams_app_id: str) -> bool:
    """Install the bot for a guest contact through Graph (``POST /users/{id}/teamwork/
    installedApps``), so that it may open a personal chat with them. True when installed now,
    False when it was already. Raises :class:`ConsentMissing` when the tenant has not granted the
    permission, :class:`ExternalServiceError` when Microsoft refuses or fails."""
    require_staff(actor)
    async with hub.sessions() as session:
        contact = await session.scalar(
            select(Contact).where(Contact.firm_id == actor.firm_id, Contact.id == contact_id)
        )
        if contact is None:
            raise NotFound(f"no contact {contact_id}", key="contacts.none")
        if not eligible(contact):
            raise Conflict(
                f"contact {contact_id} is not a guest",
                key="offers.not_guest",
                contact=contact.display_name,
            )
        firm = await session.get(Firm, actor.firm_id)
        assert firm is not None and contact.entra_object_id is not None
        tenant, object_id, name = firm.tenant_id, contact.entra_object_id, contact.display_name
    try:
        installed = await hub.graph.install_app_for_user(tenant, object_id, teams_app_id)
    except ConsentRequired as error:
        raise ConsentMissing(
            f"Graph refused installing the app for {name}: {error}",
            key="offers.install_consent",
            contact=name,
        ) from error
    except GraphError as error:
        raise ExternalServiceError(
            f"Graph failed installing the app for {name}: {error}",
            key="offers.install_failed",
            contact=name,
            detail=error.message,
        ) from error
    if installed:
        async with hub.sessions() as session, session.begin():
            record(
                session,
                actor.firm_id,
                actor.ref,
                "contact.app_installed",
                "contact",
                contact_id,
                user=object_id,
            )
    return installed


async def remember_contact_conversation(
    hub: Hub, actor: Actor, contact_id: int, reference: dict[str, Any]
) -> None:
    """The personal chat the bot opened with a contact, kept to reach them later."""
    async with hub.sessions() as session:
        contact = await session.scalar(
            select(Contact).where(Contact.firm_id == actor.firm_id, Contact.id == contact_id)
        )
        if contact is None or not contact.entra_object_id:
            raise NotFound(f"no contact {contact_id}", key="contacts.none")
        person = Actor(
            firm_id=actor.firm_id,
            firm_name=actor.firm_name,
            kind="contact",
            id=contact.id,
            display_name=contact.display_name,
            locale=contact.locale,
        )
        object_id = contact.entra_object_id
    await remember(hub.sessions, person, object_id, reference)


async def remember_offer_message(hub: Hub, actor: Actor, access_id: int, activity_id: str) -> None:
    """The Teams message that carries the offer, so that answering can update it in place."""
    async with hub.sessions() as session, session.begin():
        access = await session.get(ContactAccess, access_id, with_for_update=True)
        if access is not None and access.firm_id == actor.firm_id:
            access.activity_id = activity_id[:200]


async def offer_unreachable(
    hub: Hub,
    actor: Actor,
    access_id: int,
    reason: str,
    key: str = "offers.undelivered.teams",
    **params: str,
) -> None:
    """The offer could not reach the contact: it stays pending (visible in the panel with the
    reason: ``key`` and ``params`` say it in the reader's language, ``reason`` is the detail),
    and the audit trail says why."""
    async with hub.sessions() as session, session.begin():
        access = await session.get(ContactAccess, access_id)
        if access is not None and access.firm_id == actor.firm_id:
            record(
                session,
                actor.firm_id,
                actor.ref,
                "offer.unreachable",
                "contact",
                access.contact_id,
                access=access.id,
                reason=reason[:200],
                # Not "key": the audit page formats an event's details as a message's values.
                reason_key=key,
                reason_params={k: v[:200] for k, v in params.items()},
            )
