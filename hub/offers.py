"""Proposing services (seed 003 §5): offers to a client contact, answered in Teams.

An offer is a :class:`ContactAccess` in state ``offered``; the contact accepts (``accepted``) or
declines (``declined``). Without a contact, proposing switches the firm's other applications on
for the dossier at once, as the portfolio dialog does. The bot sends and updates the cards; every
decision is made here.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.graph import ConsentRequired, GraphError
from hub.audit import record
from hub.conversations import remember
from hub.errors import (
    Conflict,
    ConsentMissing,
    ExternalServiceError,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from hub.i18n import language_of
from hub.identity import Actor
from hub.paging import like_pattern
from hub.portfolio import (
    ContactChoice,
    contact_choice,
    contacts_of_dossier,
    dossier_by_code,
    eligible,
    firm_applications,
)
from hub.rights import require_activate, require_staff, sees_all_dossiers
from hub.services import Hub
from storage.models import (
    Connection,
    Contact,
    ContactAccess,
    Dossier,
    Firm,
    FirmApplication,
    StaffUser,
    utcnow,
)

# How many dossiers a typeahead answers at most (Teams shows 15 in the dropdown).
SEARCH_LIMIT = 15
# A contact holds the offer once it is in one of these states: offering it again sends nothing.
STANDING = ("offered", "accepted", "granted")


@dataclass(frozen=True)
class Proposable:
    """An application the accountant may tick, with its description in their language."""

    id: int
    label: str
    description: str


@dataclass(frozen=True)
class Offer:
    """One offer made, with what the bot needs to reach the contact."""

    access_id: int
    application: str
    description: str
    dossier_code: str
    dossier_name: str
    contact_id: int
    contact_name: str
    contact_object_id: str
    contact_locale: str
    proposed_by: str  # the accountant's display name


@dataclass(frozen=True)
class Proposal:
    offers: tuple[Offer, ...] = ()
    switched_on: tuple[str, ...] = ()  # applications turned on without a contact
    already: tuple[str, ...] = ()  # offered or held before: nothing sent again


@dataclass(frozen=True)
class Answer:
    access_id: int
    accepted: bool
    application: str
    description: str
    dossier_code: str
    dossier_name: str
    contact_name: str
    proposer: str  # "staff:<id>", to tell them in Teams ("" when unknown)
    proposer_name: str
    proposer_locale: str
    activity_id: str


def _describe(app: FirmApplication, lang: str) -> str:
    description = app.catalog_app.description or {}
    return str(description.get(language_of(lang)) or next(iter(description.values()), ""))


async def proposable(
    hub: Hub, actor: Actor, dossier_code: str, contact_id: int | None, lang: str | None = None
) -> tuple[Proposable, ...]:
    """With a contact: only the applications that need one; without: the others (seed 003 §5).
    Descriptions in ``lang`` (default: the actor's language)."""
    async with hub.sessions() as session:
        dossier = await dossier_by_code(session, actor, dossier_code)
        require_activate(actor, dossier)
        wanted_kind = contact_id is not None
        return tuple(
            Proposable(app.id, app.catalog_app.label, _describe(app, lang or actor.locale))
            for app in await firm_applications(session, actor.firm_id)
            if app.catalog_app.needs_contact == wanted_kind
        )


async def propose(
    hub: Hub, actor: Actor, dossier_code: str, contact_id: int | None, app_ids: Collection[int]
) -> Proposal:
    """Offer the chosen applications to the contact, or switch them on for the dossier."""
    if not app_ids:
        raise InvalidInput("no application chosen", field="applications", key="offers.none_chosen")
    now = utcnow()
    async with hub.sessions() as session, session.begin():
        dossier = await dossier_by_code(session, actor, dossier_code)
        require_activate(actor, dossier)
        apps = {a.id: a for a in await firm_applications(session, actor.firm_id)}
        if set(app_ids) - set(apps):
            raise NotFound("unknown firm application", key="portfolio.no_application")
        contact = await _contact_of(session, dossier, contact_id) if contact_id else None
        chosen = [apps[i] for i in sorted(set(app_ids))]
        for app in chosen:
            if app.catalog_app.needs_contact != (contact is not None):
                raise InvalidInput(
                    f"{app.catalog_app.label} cannot be proposed this way",
                    field="applications",
                    key="offers.needs_contact"
                    if app.catalog_app.needs_contact
                    else "offers.no_contact",
                    application=app.catalog_app.label,
                )
        connections = await _connections(session, dossier, chosen, now)
        if contact is None:
            switched = []
            for app in chosen:
                connection = connections[app.id]
                if not connection.active:
                    connection.active, connection.connected_at = True, now
                    switched.append(app.catalog_app.label)
                    record(
                        session,
                        actor.firm_id,
                        actor.ref,
                        "dossier.application_on",
                        "dossier",
                        dossier.id,
                        application=app.catalog_app.label,
                        dossier=dossier.code,
                    )
            return Proposal(
                switched_on=tuple(switched),
                already=tuple(
                    a.catalog_app.label for a in chosen if a.catalog_app.label not in switched
                ),
            )
        return await _offer(session, actor, dossier, contact, chosen, now)


async def _contact_of(session: AsyncSession, dossier: Dossier, contact_id: int) -> Contact:
    contacts = {c.id: c for c in await contacts_of_dossier(session, dossier)}
    contact = contacts.get(contact_id)
    if contact is None:
        raise NotFound(f"contact {contact_id} not on {dossier.code}", key="portfolio.no_contact")
    if not eligible(contact):
        raise Conflict(
            f"contact {contact_id} is not a guest yet",
            key="offers.not_guest",
            contact=contact.display_name,
        )
    return contact


async def _connections(
    session: AsyncSession, dossier: Dossier, apps: list[FirmApplication], now: datetime
) -> dict[int, Connection]:
    """The dossier's connection to each application, made (switched off) where there is none."""
    found = {
        c.firm_application_id: c
        for c in await session.scalars(
            select(Connection).where(
                Connection.dossier_id == dossier.id,
                Connection.firm_application_id.in_([a.id for a in apps]),
            )
        )
    }
    for app in apps:
        if app.id not in found:
            found[app.id] = Connection(
                firm_id=dossier.firm_id,
                firm_application_id=app.id,
                dossier_id=dossier.id,
                active=False,
                connected_at=now,
            )
            session.add(found[app.id])
    await session.flush()
    return found


async def _offer(
    session: AsyncSession,
    actor: Actor,
    dossier: Dossier,
    contact: Contact,
    apps: list[FirmApplication],
    now: datetime,
) -> Proposal:
    existing = {
        a.firm_application_id: a
        for a in await session.scalars(
            select(ContactAccess).where(
                ContactAccess.dossier_id == dossier.id, ContactAccess.contact_id == contact.id
            )
        )
    }
    offers, already = [], []
    for app in apps:
        access = existing.get(app.id)
        if access is not None and access.state in STANDING:
            already.append(app.catalog_app.label)
            continue
        if access is None:
            access = ContactAccess(
                firm_id=actor.firm_id,
                firm_application_id=app.id,
                contact_id=contact.id,
                dossier_id=dossier.id,
            )
            session.add(access)
        access.state, access.offered_by_id, access.offered_at = "offered", actor.id, now
        access.answered_at, access.activity_id = None, ""
        await session.flush()
        record(
            session,
            actor.firm_id,
            actor.ref,
            "offer.sent",
            "contact",
            contact.id,
            application=app.catalog_app.label,
            contact=contact.email,
            dossier=dossier.code,
        )
        offers.append(
            Offer(
                access_id=access.id,
                application=app.catalog_app.label,
                description=_describe(app, contact.locale),
                dossier_code=dossier.code,
                dossier_name=dossier.name,
                contact_id=contact.id,
                contact_name=contact.display_name,
                contact_object_id=contact.entra_object_id or "",
                contact_locale=contact.locale,
                proposed_by=actor.display_name,
            )
        )
    return Proposal(offers=tuple(offers), already=tuple(already))


async def remember_offer_message(hub: Hub, actor: Actor, access_id: int, activity_id: str) -> None:
    """The Teams message that carries the offer, so that answering can update it in place."""
    async with hub.sessions() as session, session.begin():
        access = await session.get(ContactAccess, access_id, with_for_update=True)
        if access is not None and access.firm_id == actor.firm_id:
            access.activity_id = activity_id[:200]


async def offer_unreachable(hub: Hub, actor: Actor, access_id: int, reason: str) -> None:
    """The bot could not reach the contact: the offer stays pending (visible in the panel), and
    the audit trail says why."""
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
            )


async def answer_offer(hub: Hub, actor: Actor, access_id: int, accept: bool) -> Answer:
    """The contact accepts or declines; only the contact the offer was made to may answer, once.

    Accepting switches the application on for the dossier (its connection was made, switched
    off, when the offer was sent). Raises :class:`NotFound` for an offer of another firm or none,
    :class:`PermissionDenied` for anyone but that contact, :class:`Conflict`
    (``offers.already_<state>``) when the offer was answered, granted or withdrawn already.
    """
    async with hub.sessions() as session, session.begin():
        access = await session.get(ContactAccess, access_id, with_for_update=True)
        if access is None or access.firm_id != actor.firm_id:
            raise NotFound(f"no offer {access_id}", key="offers.unknown")
        if actor.kind != "contact" or access.contact_id != actor.id:
            raise PermissionDenied("only the contact answers an offer", key="offers.not_yours")
        app = await session.get(FirmApplication, access.firm_application_id)
        dossier = await session.get(Dossier, access.dossier_id)
        assert app is not None and dossier is not None
        if access.state != "offered":
            raise Conflict(
                f"offer {access_id} is {access.state}",
                key=f"offers.already_{access.state}",
                application=app.catalog_app.label,
                dossier=dossier.code,
            )
        proposer = (
            await session.get(StaffUser, access.offered_by_id) if access.offered_by_id else None
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
            description=_describe(app, actor.locale),
            dossier_code=dossier.code,
            dossier_name=dossier.name,
            contact_name=actor.display_name,
            proposer=f"staff:{proposer.id}" if proposer else "",
            proposer_name=proposer.display_name if proposer else "",
            proposer_locale=proposer.locale if proposer else "fr",
            activity_id=access.activity_id,
        )


# --------------------------------------------------------------------------- choosing


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
        pattern = like_pattern(term)
        where.append(
            or_(
                Dossier.code.ilike(pattern, escape="\\"),
                Dossier.name.ilike(pattern, escape="\\"),
            )
        )
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


# --------------------------------------------------------------------------- reaching the contact


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
