"""The firm's dossiers and contacts as lists, a contact's page, and linking a contact to dossiers.

Every staff member may read the firm's dossiers and contacts; linking or unlinking a contact and a
dossier changes who can be offered the dossier's applications, so it takes the same right as
switching them on (:func:`hub.rights.require_activate`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.audit import record
from hub.errors import Conflict, InvalidInput, NotFound
from hub.identity import Actor
from hub.invitations import valid_email
from hub.paging import PER_PAGE, Page, like_pattern
from hub.portfolio import (
    HELD,
    DossierRow,
    contact_by_id,
    dossier_by_code,
    dossier_rows,
    dossier_search,
)
from hub.rights import require_activate, require_staff
from hub.services import Hub
from storage.models import Contact, ContactAccess, ContactDossier, Dossier, Firm, utcnow


async def list_dossiers(
    hub: Hub, actor: Actor, *, term: str | None = None, page: int = 1
) -> Page[DossierRow]:
    """Every dossier of the actor's firm (the portfolio is the personal view of the same rows)."""
    require_staff(actor)
    conditions = [dossier_search(term)] if term else []
    async with hub.sessions() as session:
        return await dossier_rows(session, actor, conditions, page)


@dataclass(frozen=True)
class ContactRow:
    id: int
    name: str
    email: str
    phone: str
    guest_state: str  # none | invited | guest | failed
    dossiers: int


def _contact_search(term: str) -> ColumnElement[bool]:
    pattern = like_pattern(term)
    full_name = func.lower(Contact.first_name + " " + Contact.last_name)
    return or_(
        full_name.like(pattern, escape="\\"),
        func.lower(Contact.last_name + " " + Contact.first_name).like(pattern, escape="\\"),
        func.lower(Contact.email).like(pattern, escape="\\"),
    )


async def list_contacts(
    hub: Hub, actor: Actor, *, term: str | None = None, page: int = 1
) -> Page[ContactRow]:
    """The firm's contacts by name, with their guest state and how many dossiers each is on."""
    require_staff(actor)
    where = [Contact.firm_id == actor.firm_id]
    if term:
        where.append(_contact_search(term))
    async with hub.sessions() as session:
        total = await session.scalar(select(func.count()).select_from(Contact).where(*where)) or 0
        pages = max(1, -(-total // PER_PAGE))
        page = min(max(1, page), pages)
        ids = (
            select(Contact.id)
            .where(*where)
            .order_by(Contact.last_name, Contact.first_name, Contact.id)
            .limit(PER_PAGE)
            .offset((page - 1) * PER_PAGE)
            .cte("page_ids")
        )
        linked = (
            select(ContactDossier.contact_id, func.count().label("n"))
            .where(ContactDossier.contact_id.in_(select(ids.c.id)))
            .group_by(ContactDossier.contact_id)
            .subquery()
        )
        rows = await session.execute(
            select(Contact, func.coalesce(linked.c.n, 0))
            .join(ids, ids.c.id == Contact.id)
            .outerjoin(linked, linked.c.contact_id == Contact.id)
            .order_by(Contact.last_name, Contact.first_name, Contact.id)
        )
        items = [
            ContactRow(c.id, c.display_name, c.email, c.phone, c.guest_state, int(n))
            for c, n in rows
        ]
    return Page(items=items, number=page, per_page=PER_PAGE, total=total)


@dataclass(frozen=True)
class ContactCard:
    id: int
    first_name: str
    last_name: str
    name: str
    email: str
    phone: str
    locale: str
    guest_state: str


async def contact_card(hub: Hub, actor: Actor, contact_id: int) -> ContactCard:
    require_staff(actor)
    async with hub.sessions() as session:
        c = await contact_by_id(session, actor, contact_id)
    return ContactCard(
        c.id, c.first_name, c.last_name, c.display_name, c.email, c.phone, c.locale, c.guest_state
    )


async def contact_dossiers(
    hub: Hub, actor: Actor, contact_id: int, *, page: int = 1
) -> Page[DossierRow]:
    """The contact's Dossiers tab: the dossiers it is linked to."""
    require_staff(actor)
    async with hub.sessions() as session:
        await contact_by_id(session, actor, contact_id)
        linked = select(ContactDossier.dossier_id).where(
            ContactDossier.firm_id == actor.firm_id, ContactDossier.contact_id == contact_id
        )
        return await dossier_rows(session, actor, [Dossier.id.in_(linked)], page)


async def dossiers_to_link(
    hub: Hub, actor: Actor, contact_id: int, term: str, *, page: int = 1
) -> Page[DossierRow]:
    """Search (3+ characters, see :func:`hub.paging.search_term`) among the dossiers the contact
    is not linked to yet."""
    require_staff(actor)
    async with hub.sessions() as session:
        await contact_by_id(session, actor, contact_id)
        linked = select(ContactDossier.dossier_id).where(
            ContactDossier.firm_id == actor.firm_id, ContactDossier.contact_id == contact_id
        )
        return await dossier_rows(
            session, actor, [dossier_search(term), Dossier.id.not_in(linked)], page
        )


async def _link(session: AsyncSession, actor: Actor, contact: Contact, dossier: Dossier) -> bool:
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
        if not await _link(session, actor, contact, dossier):
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


@dataclass(frozen=True)
class CreatedContact:
    id: int
    name: str
    email: str
    created: bool  # False: a contact of the firm already had this address
    linked: bool  # True: the contact was linked to the dossier just now


async def create_contact(
    hub: Hub, actor: Actor, first_name: str, last_name: str, email: str, dossier_code: str
) -> CreatedContact:
    """Add a client contact to a dossier (the bot's "invite" form), or find the firm's contact
    who has this address and link them to it.

    Takes the right to activate applications on the dossier (who may invite a contact of that
    dossier). Raises :class:`InvalidInput` with ``field`` ``first_name``, ``last_name`` or
    ``email`` for a missing name or an address that cannot be invited; nothing is written then.
    """
    first, last, address = first_name.strip(), last_name.strip(), email.strip().lower()
    for field, value in (("first_name", first), ("last_name", last)):
        if not value or len(value) > 100:
            raise InvalidInput(
                f"{field} is empty or too long", field=field, key=f"contacts.{field}_missing"
            )
    if not valid_email(address):
        raise InvalidInput(
            f"{address!r} is not a valid address",
            field="email",
            key="invitations.bad_email",
            contact=f"{first} {last}",
            email=email.strip(),
        )
    async with hub.sessions() as session, session.begin():
        dossier = await dossier_by_code(session, actor, dossier_code)
        require_activate(actor, dossier)
        contact = await session.scalar(
            select(Contact).where(
                Contact.firm_id == actor.firm_id, func.lower(Contact.email) == address
            )
        )
        created = contact is None
        if contact is None:
            contact = Contact(
                firm_id=actor.firm_id,
                first_name=first,
                last_name=last,
                email=address,
                locale=await session.scalar(
                    select(Firm.default_locale).where(Firm.id == actor.firm_id)
                )
                or "fr",
            )
            session.add(contact)
            await session.flush()
            record(
                session,
                actor.firm_id,
                actor.ref,
                "contact.created",
                "contact",
                contact.id,
                contact=contact.email,
                dossier=dossier.code,
            )
        linked = await _link(session, actor, contact, dossier)
        return CreatedContact(contact.id, contact.display_name, contact.email, created, linked)
