"""The contact's answer: accepting switches the application on for the dossier, and the
accountant who proposed is told in Teams; the offer's card shows the offer as it stands now.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.audit import record
from hub.conversations import reference_for
from hub.errors import Conflict, NotFound, PermissionDenied
from hub.identity import Actor
from hub.offers.records import describe, offer_of
from hub.ports import Answer, Offer, TeamsUnreachable
from hub.services import Hub
from storage.models import (
    Connection,
    Contact,
    ContactAccess,
    Dossier,
    FirmApplication,
    StaffUser,
    utcnow,
)

log = logging.getLogger(__name__)


async def _contacts_offer(
    session: AsyncSession, actor: Actor, access_id: int, *, lock: bool = False
) -> tuple[ContactAccess, FirmApplication, Dossier, StaffUser | None]:
    """The offer ``access_id`` with its application, dossier and proposer (None once gone), for
    the contact it was made to only; ``lock`` holds the offer's row until the transaction ends."""
    access = await session.get(ContactAccess, access_id, with_for_update=lock)
    if access is None or access.firm_id != actor.firm_id:
        raise NotFound(f"no offer {access_id}", key="offers.unknown")
    if actor.kind != "contact" or access.contact_id != actor.id:
        raise PermissionDenied("only the contact sees or answers an offer", key="offers.not_yours")
    app = await session.get(FirmApplication, access.firm_application_id)
    dossier = await session.get(Dossier, access.dossier_id)
    assert app is not None and dossier is not None
    proposer = await session.get(StaffUser, access.offered_by_id) if access.offered_by_id else None
    return access, app, dossier, proposer


async def _record_answer(hub: Hub, actor: Actor, access_id: int, accept: bool) -> Answer:
    """The contact accepts or declines; only the contact the offer was made to may answer, once.

    Accepting switches the application on for the dossier (its connection was made, switched
    off, when the offer was sent). Raises :class:`NotFound` for an offer of another firm or none,
    :class:`PermissionDenied` for anyone but that contact, :class:`Conflict`
    (``offers.already_<state>``) when the offer was answered, granted or withdrawn already.
    """
    async with hub.sessions() as session, session.begin():
        access, app, dossier, proposer = await _contacts_offer(session, actor, access_id, lock=True)
        if access.state != "offered":
            raise Conflict(
                f"offer {access_id} is {access.state}",
                key=f"offers.already_{access.state}",
                application=app.catalog_app.label,
                dossier=dossier.code,
            )
        access.state = "accepted" if accept else "declined"
        access.answered_at = utcnow()
        if accept:
            connection = await session.scalar(
                select(Connection).where(
                    Connection.firm_application_id == app.id, Connection.dossier_id == dossier.id
                )
            )
            if connection is None:
                session.add(
                    Connection(
                        firm_id=actor.firm_id,
                        firm_application_id=app.id,
                        dossier_id=dossier.id,
                        connected_at=access.answered_at,
                    )
                )
            elif not connection.active:
                connection.active, connection.connected_at = True, access.answered_at
        record(
            session,
            actor.firm_id,
            actor.ref,
            f"offer.{access.state}",
            "contact",
            actor.id,
            access=access.id,
            application=app.catalog_app.label,
            dossier=dossier.code,
        )
        return Answer(
            access_id=access.id,
            accepted=accept,
            application=app.catalog_app.label,
            description=describe(app, actor.locale),
            dossier_code=dossier.code,
            dossier_name=dossier.name,
            contact_name=actor.display_name,
            proposer=f"staff:{proposer.id}" if proposer else "",
            proposer_name=proposer.display_name if proposer else "",
            proposer_locale=proposer.locale if proposer else "fr",
            activity_id=access.activity_id,
        )


async def answer_offer(hub: Hub, actor: Actor, access_id: int, accept: bool) -> Answer:
    """The contact's answer recorded (:func:`_record_answer`), then the accountant who proposed
    told in Teams when the bot has talked with them (there is no chat to open with staff
    otherwise). Not reaching them changes nothing of the answer, which the panel shows anyway."""
    result = await _record_answer(hub, actor, access_id, accept)
    if not result.proposer or hub.teams is None:
        return result
    reference = await reference_for(hub.sessions, actor.firm_id, result.proposer)
    if reference is not None:
        try:
            await hub.teams.send_answer(reference, result)
        except TeamsUnreachable as error:
            log.warning("could not tell %s about offer %s: %s", result.proposer, access_id, error)
    return result


@dataclass(frozen=True)
class OfferStatus:
    """An offer as it stands now, for the contact's card (Teams refreshes it when shown)."""

    offer: Offer
    state: str  # offered | accepted | declined | granted | revoked


async def offer_status(hub: Hub, actor: Actor, access_id: int) -> OfferStatus:
    """The current state of an offer, for the contact it was made to only."""
    async with hub.sessions() as session:
        access, app, dossier, proposer = await _contacts_offer(session, actor, access_id)
        contact = await session.get(Contact, access.contact_id)
        assert contact is not None
        offer = offer_of(access, app, dossier, contact, proposer.display_name if proposer else "")
        return OfferStatus(offer=offer, state=access.state)
