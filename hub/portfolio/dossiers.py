"""Finding one of the firm's dossiers, and what hangs on it: its contacts, the firm's
applications, and which contacts the bot can reach."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.errors import NotFound
from hub.identity import Actor
from hub.paging import contains
from storage.models import CatalogApp, Contact, ContactDossier, Dossier, FirmApplication

# A contact holds the application while its access is in one of these states; "offered" counts
# because the offer is out in Teams and unticking it must withdraw it.
HELD = ("granted", "offered", "accepted")


def reachable_guest() -> ColumnElement[bool]:
    """A contact the bot can talk to: a guest on the tenant with a known Entra object id (the
    query's spelling of :func:`eligible`)."""
    return and_(Contact.guest_state == "guest", Contact.entra_object_id.is_not(None))


def eligible(contact: Contact) -> bool:
    """The contact may be offered an application: the bot can reach them."""
    return contact.guest_state == "guest" and contact.entra_object_id is not None


def code_is(code: str) -> ColumnElement[bool]:
    """The one rule for naming a dossier by its code, wherever a person types one (the bot's
    commands, the panel's filters, the REST API's paths): trimmed and in any case, since people
    type ``bla011`` for ``BLA011`` and Teams' typeahead offers codes whatever the case typed.
    Use with :func:`exact_code_first` where a firm might hold codes differing only in case."""
    return func.lower(Dossier.code) == code.strip().lower()


def exact_code_first(code: str) -> ColumnElement[bool]:
    """An ``ORDER BY`` that puts the dossier spelled exactly as typed before one that differs only
    in case (``false`` sorts first in both databases)."""
    return Dossier.code != code.strip()


async def dossier_by_code(session: AsyncSession, actor: Actor, code: str) -> Dossier:
    """The actor's firm's dossier, or NotFound — the same answer whether or not another firm has
    a dossier of that code."""
    dossier = await session.scalar(
        select(Dossier)
        .where(Dossier.firm_id == actor.firm_id, code_is(code))
        .order_by(exact_code_first(code))
        .limit(1)
    )
    if dossier is None:
        raise NotFound(f"no dossier {code!r} in firm {actor.firm_id}", key="portfolio.no_dossier")
    return dossier


async def contacts_of_dossier(session: AsyncSession, dossier: Dossier) -> list[Contact]:
    rows = await session.scalars(
        select(Contact)
        .join(ContactDossier, ContactDossier.contact_id == Contact.id)
        .where(
            ContactDossier.firm_id == dossier.firm_id,
            ContactDossier.dossier_id == dossier.id,
        )
        .order_by(Contact.last_name, Contact.first_name, Contact.id)
    )
    return list(rows)


async def firm_applications(session: AsyncSession, firm_id: int) -> list[FirmApplication]:
    rows = await session.scalars(
        select(FirmApplication)
        .join(CatalogApp, CatalogApp.id == FirmApplication.catalog_app_id)
        .where(FirmApplication.firm_id == firm_id)
        .order_by(CatalogApp.needs_contact.desc(), CatalogApp.label, FirmApplication.id)
    )
    return list(rows)


def dossier_search(term: str) -> ColumnElement[bool]:
    """Code or name contains the term: the one dossier search (portfolio, wizards, offers)."""
    return contains(term, Dossier.code, Dossier.name)
