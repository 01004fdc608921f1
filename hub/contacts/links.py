"""Linking a client contact to a dossier, and unlinking them.

A link decides who can be offered the dossier's applications, so making or breaking one takes
the same right as switching them on (:func:`hub.rights.require_activate`).
"""

from __future__ import annotations

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.audit import record
from hub.contacts.directory import contact_by_id
from hub.errors import Conflict, NotFound
from hub.identity import Actor
from hub.portfolio import HELD, dossier_by_code
from hub.rights import require_activate
from hub.services import Hub
from storage.models import Contact, ContactAccess, ContactDossier, Dossier, utcnow


async def add_link(session: AsyncSession, actor: Actor, contact: Contact, dossier: Dossier) -> bool:
    """Link the contact to the dossier, with its audit event; False when it already was."""
    existing = await session.scalar(
        select(ContactDossier.id).where(
            ContactDossier.contact_id == contact.id, ContactDossier.dossier_id == dossier.id
        )
    )
    if existing is not None:
        return False
    session.add(ContactDossier(firm_id=actor.firm_id, contact_id=contact.id, dossier_id=dossier.id))
    record(
        session,
        actor.firm_id,
        actor.ref,
        "contact.dossier_linked",
        "contact",
        contact.id,
        contact=contact.email,
        dossier=dossier.code,
    )
    return True


async def link_dossier(hub: Hub, actor: Actor, contact_id: int, code: str) -> None:
    async with hub.sessions() as session, session.begin():
        contact = await contact_by_id(session, actor, contact_id)
        dossier = await dossier_by_code(session, actor, code)
        require_activate(actor, dossier)
        if not await add_link(session, actor, contact, dossier):
            raise Conflict(
                f"contact {contact.id} already on {code}",
                key="contacts.already_linked",
                dossier=code,
            )


async def unlink_dossier(hub: Hub, actor: Actor, contact_id: int, code: str) -> int:
    """Unlink, and revoke the applications the contact held on that dossier (an access without
    the link would outlive the reason it was given); returns how many were revoked."""
    async with hub.sessions() as session, session.begin():
        contact = await contact_by_id(session, actor, contact_id)
        dossier = await dossier_by_code(session, actor, code)
        require_activate(actor, dossier)
        link = await session.scalar(
            select(ContactDossier).where(
                ContactDossier.contact_id == contact.id, ContactDossier.dossier_id == dossier.id
            )
        )
        if link is None:
            raise NotFound(f"contact {contact.id} not on {code}", key="portfolio.no_contact")
        await session.delete(link)
        held = list(
            await session.scalars(
                select(ContactAccess).where(
                    and_(
                        ContactAccess.firm_id == actor.firm_id,
                        ContactAccess.contact_id == contact.id,
                        ContactAccess.dossier_id == dossier.id,
                        ContactAccess.state.in_(HELD),
                    )
                )
            )
        )
        now = utcnow()
        for access in held:
            access.state = "revoked"
            access.answered_at = now
        record(
            session,
            actor.firm_id,
            actor.ref,
            "contact.dossier_unlinked",
            "contact",
            contact.id,
            contact=contact.email,
            dossier=dossier.code,
            revoked=len(held),
        )
    return len(held)
