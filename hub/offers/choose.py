"""Choosing where to propose: the dossiers the accountant may propose services on (the ``propose``
card's list and typeahead) and a dossier's contacts, the eligible ones first among equals.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, or_, select

from hub.identity import Actor
from hub.portfolio import (
    ContactChoice,
    contact_choice,
    contacts_of_dossier,
    dossier_by_code,
    dossier_search,
)
from hub.rights import require_activate, require_staff, sees_all_dossiers
from hub.services import Hub
from storage.models import Dossier

# How many dossiers a typeahead answers at most (Teams shows 15 in the dropdown).
SEARCH_LIMIT = 15


@dataclass(frozen=True)
class DossierChoice:
    code: str
    name: str


def _actionable(actor: Actor) -> list[ColumnElement[bool]]:
    """The dossiers :func:`hub.rights.may_activate` allows, as a query condition."""
    where: list[ColumnElement[bool]] = [Dossier.firm_id == actor.firm_id]
    if not sees_all_dossiers(actor):
        where.append(or_(Dossier.master_id == actor.id, Dossier.engagement_manager_id == actor.id))
    return where


async def actionable_dossiers(
    hub: Hub, actor: Actor, term: str = "", *, limit: int = SEARCH_LIMIT, skip: int = 0
) -> tuple[DossierChoice, ...]:
    """The dossiers of the actor's firm on which they may propose services, matching ``term``
    (code or name, anywhere, any case); without a term the most recently created first."""
    require_staff(actor)
    where = _actionable(actor)
    term = term.strip()
    if term:
        where.append(dossier_search(term))
    stmt = select(Dossier.code, Dossier.name).where(*where)
    if term:
        stmt = stmt.order_by(Dossier.code, Dossier.id)
    else:
        stmt = stmt.order_by(Dossier.created_at.desc(), Dossier.id.desc())
    async with hub.sessions() as session:
        rows = await session.execute(stmt.offset(max(0, skip)).limit(max(1, min(limit, 50))))
        return tuple(DossierChoice(code, name) for code, name in rows)


@dataclass(frozen=True)
class DossierContacts:
    """Step 2 of proposing: the dossier and its contacts (the eligible ones are guests)."""

    code: str
    name: str
    contacts: tuple[ContactChoice, ...]

    @property
    def eligible(self) -> tuple[ContactChoice, ...]:
        return tuple(c for c in self.contacts if c.eligible)


async def dossier_contacts(hub: Hub, actor: Actor, code: str) -> DossierContacts:
    """The dossier's contacts, for the actor who may propose services on it."""
    async with hub.sessions() as session:
        dossier = await dossier_by_code(session, actor, code)
        require_activate(actor, dossier)
        contacts = await contacts_of_dossier(session, dossier)
        return DossierContacts(
            dossier.code, dossier.name, tuple(contact_choice(contact) for contact in contacts)
        )
