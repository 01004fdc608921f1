"""The firm's client contacts as a list, one contact's page and the dossiers it is on.

Every staff member may read the firm's contacts. :func:`contact_by_id` is the one way the
capability finds a contact, scoped by the actor's firm.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.errors import NotFound
from hub.identity import Actor
from hub.paging import PER_PAGE, Page, contains
from hub.portfolio import DossierRow, dossier_rows, dossier_search
from hub.rights import require_staff
from hub.services import Hub
from storage.models import Contact, ContactDossier, Dossier


@dataclass(frozen=True)
class ContactRow:
    id: int
    name: str
    email: str
    phone: str
    guest_state: str  # none | invited | guest | failed
    dossiers: int


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


async def contact_by_id(session: AsyncSession, actor: Actor, contact_id: int) -> Contact:
    """The actor's firm's contact, or NotFound (whether or not another firm has that id)."""
    contact = await session.scalar(
        select(Contact).where(Contact.firm_id == actor.firm_id, Contact.id == contact_id)
    )
    if contact is None:
        raise NotFound(f"no contact {contact_id} in firm {actor.firm_id}", key="contacts.none")
    return contact


def _contact_search(term: str) -> ColumnElement[bool]:
    return contains(
        term,
        Contact.first_name + " " + Contact.last_name,
        Contact.last_name + " " + Contact.first_name,
        Contact.email,
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
