"""Proposing services (seed 003 §5): offers to a client contact, answered in Teams.

An offer is a :class:`ContactAccess` in state ``offered``; the contact accepts (``accepted``) or
declines (``declined``). Applications that need no contact are switched on for the dossier at
once. Both faces propose through this module: the bot with :func:`propose` (one contact, adding),
the panel's applications dialog with :func:`save_applications` (the dossier's whole choice,
adding and withdrawing); both record offers the same way and hand them to one
:class:`OfferCourier` (implemented by the bot) that carries them to the contact in Teams. Every
decision is made here.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

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
    HELD,
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
    ConversationRef,
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
            switched = [
                app.catalog_app.label
                for app in chosen
                if _switch(session, actor, dossier, app, connections[app.id], True, now)
            ]
            return Proposal(
                switched_on=tuple(switched),
                already=tuple(
                    a.catalog_app.label for a in chosen if a.catalog_app.label not in switched
                ),
            )
        accesses = await _accesses(session, dossier)
        offers, already = [], []
        for app in chosen:
            access = accesses.get((app.id, contact.id))
            if access is not None and access.state in STANDING:
                already.append(app.catalog_app.label)
            else:
                offers.append(await _offer(session, actor, dossier, contact, app, access, now))
        return Proposal(offers=tuple(offers), already=tuple(already))


@dataclass(frozen=True)
class SaveResult:
    """What the applications dialog changed; ``offered`` still has to reach the contacts."""

    switched_on: list[str] = field(default_factory=list)
    switched_off: list[str] = field(default_factory=list)
    offered: list[Offer] = field(default_factory=list)
    revoked: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.switched_on or self.switched_off or self.offered or self.revoked)


async def save_applications(
    hub: Hub, actor: Actor, code: str, choices: Mapping[int, Collection[int]]
) -> SaveResult:
    """The panel's "propose a service": make the dossier's applications ``choices`` (firm
    application id → the contact ids to offer it to; empty for applications that need no
    contact). Applications left out are switched off; contacts left out lose the offer or the
    access. Contacts newly ticked get an offer, exactly as from Teams (:func:`propose`), and the
    application is switched on for the dossier when they accept. Everything is checked before
    anything changes, then applied in one transaction with one audit event per change.

    Switching off keeps the Connection with ``active`` False rather than deleting it: deleting
    would cascade to its deliveries and erase the dossier's send history, and switching on again
    should find the dossier code or collection email entered for it before.
    """
    now = utcnow()
    async with hub.sessions() as session, session.begin():
        dossier = await dossier_by_code(session, actor, code)
        require_activate(actor, dossier)
        firm_apps = {a.id: a for a in await firm_applications(session, actor.firm_id)}
        unknown = set(choices) - set(firm_apps)
        if unknown:
            raise NotFound(f"no firm application {sorted(unknown)}", key="portfolio.no_application")
        contacts = {c.id: c for c in await contacts_of_dossier(session, dossier)}
        accesses = await _accesses(session, dossier)
        existing = await _connections(session, dossier, [], now)
        held = {
            key for key, access in accesses.items() if access.state in HELD and key[1] in contacts
        }
        for app_id, contact_ids in choices.items():
            _check_choice(
                firm_apps[app_id],
                set(contact_ids),
                contacts,
                code,
                on=app_id in existing and existing[app_id].active,
                holding=any(a == app_id for a, _ in held),
            )

        result = SaveResult()
        offered = [
            app
            for app_id, app in firm_apps.items()
            if app.catalog_app.needs_contact
            and set(choices.get(app_id, ())) - {c for a, c in held if a == app_id}
        ]
        wanted_on = [
            app
            for app_id, app in firm_apps.items()
            if app_id in choices and not app.catalog_app.needs_contact
        ]
        connections = await _connections(session, dossier, offered + wanted_on, now)
        for app_id, app in firm_apps.items():
            label = app.catalog_app.label
            connection = connections.get(app_id)
            if not app.catalog_app.needs_contact:
                if connection is not None and _switch(
                    session, actor, dossier, app, connection, app_id in choices, now
                ):
                    (result.switched_on if app_id in choices else result.switched_off).append(label)
                continue
            if (
                app_id not in choices
                and connection is not None
                and _switch(session, actor, dossier, app, connection, False, now)
            ):
                result.switched_off.append(label)
            wanted = set(choices.get(app_id, ()))
            for cid in sorted(wanted):
                access = accesses.get((app_id, cid))
                if (app_id, cid) not in held:
                    offer = await _offer(session, actor, dossier, contacts[cid], app, access, now)
                    result.offered.append(offer)
                elif access is not None and access.state == "offered" and not access.activity_id:
                    # Still pending and never delivered: saving again tries to deliver it again.
                    result.offered.append(
                        _offer_of(access, app, dossier, contacts[cid], actor.display_name)
                    )
            for a, cid in sorted(held):
                if a == app_id and cid not in wanted:
                    _revoke(session, actor, dossier, app, contacts[cid], accesses[(a, cid)], now)
                    result.revoked.append(f"{label} · {contacts[cid].display_name}")
    return result


def _check_choice(
    app: FirmApplication,
    wanted: set[int],
    contacts: Mapping[int, Contact],
    code: str,
    *,
    on: bool,
    holding: bool,
) -> None:
    """One application of the dialog's choice, refused as a whole when any part is wrong."""
    label = app.catalog_app.label
    if not app.catalog_app.needs_contact:
        if wanted:
            raise InvalidInput(
                f"{label} takes no contact",
                field=f"contacts-{app.id}",
                key="portfolio.no_contact_needed",
                application=label,
            )
        return
    missing = wanted - set(contacts)
    if missing:
        raise NotFound(f"contacts {sorted(missing)} not on {code}", key="portfolio.no_contact")
    for cid in sorted(wanted):
        if not eligible(contacts[cid]):
            raise InvalidInput(
                f"contact {cid} is not a guest on the tenant yet",
                field=f"contacts-{app.id}",
                key="portfolio.contact_not_ready",
                contact=contacts[cid].display_name,
                reason_key=f"portfolio.reason.{contacts[cid].guest_state}",
            )
    if not wanted and not on and not holding:
        # Switched on with nobody ticked: an offer is made to someone, or it is nothing.
        raise InvalidInput(
            f"{label} needs a contact",
            field=f"contacts-{app.id}",
            key="portfolio.contact_needed",
            application=label,
        )


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
    """The dossier's connections, with one made (switched off) for each of ``apps`` that has
    none: an offer's application is switched on when the contact accepts."""
    found = {
        c.firm_application_id: c
        for c in await session.scalars(
            select(Connection).where(
                Connection.firm_id == dossier.firm_id, Connection.dossier_id == dossier.id
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


async def _accesses(
    session: AsyncSession, dossier: Dossier
) -> dict[tuple[int, int], ContactAccess]:
    """The dossier's offers and accesses by (firm application, contact)."""
    return {
        (a.firm_application_id, a.contact_id): a
        for a in await session.scalars(
            select(ContactAccess).where(
                ContactAccess.firm_id == dossier.firm_id, ContactAccess.dossier_id == dossier.id
            )
        )
    }


def _switch(
    session: AsyncSession,
    actor: Actor,
    dossier: Dossier,
    app: FirmApplication,
    connection: Connection,
    on: bool,
    now: datetime,
) -> bool:
    """Switch the dossier's application on or off; False when it already was."""
    if connection.active == on:
        return False
    connection.active = on
    if on:
        connection.connected_at = now
    record(
        session,
        actor.firm_id,
        actor.ref,
        "dossier.application_on" if on else "dossier.application_off",
        "dossier",
        dossier.id,
        application=app.catalog_app.label,
        dossier=dossier.code,
    )
    return True


def _record_for_contact(
    session: AsyncSession,
    actor: Actor,
    action: str,
    dossier: Dossier,
    app: FirmApplication,
    contact: Contact,
) -> None:
    """The audit event of an offer made or withdrawn: which contact, application and dossier."""
    record(
        session,
        actor.firm_id,
        actor.ref,
        action,
        "contact",
        contact.id,
        application=app.catalog_app.label,
        contact=contact.email,
        dossier=dossier.code,
    )


def _revoke(
    session: AsyncSession,
    actor: Actor,
    dossier: Dossier,
    app: FirmApplication,
    contact: Contact,
    access: ContactAccess,
    now: datetime,
) -> None:
    """Withdraw an offer still out, or an access held (its Teams card then says so)."""
    access.state, access.answered_at = "revoked", now
    _record_for_contact(session, actor, "contact_access.revoked", dossier, app, contact)


async def _offer(
    session: AsyncSession,
    actor: Actor,
    dossier: Dossier,
    contact: Contact,
    app: FirmApplication,
    access: ContactAccess | None,
    now: datetime,
) -> Offer:
    """Record the offer (a new row, or the declined or withdrawn one made again)."""
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
    _record_for_contact(session, actor, "offer.sent", dossier, app, contact)
    return _offer_of(access, app, dossier, contact, actor.display_name)


def _offer_of(
    access: ContactAccess,
    app: FirmApplication,
    dossier: Dossier,
    contact: Contact,
    proposer: str,
) -> Offer:
    return Offer(
        access_id=access.id,
        application=app.catalog_app.label,
        description=_describe(app, contact.locale),
        dossier_code=dossier.code,
        dossier_name=dossier.name,
        contact_id=contact.id,
        contact_name=contact.display_name,
        contact_object_id=contact.entra_object_id or "",
        contact_locale=contact.locale,
        proposed_by=proposer,
    )


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


async def answer_offer(hub: Hub, actor: Actor, access_id: int, accept: bool) -> Answer:
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


# --------------------------------------------------------------------------- delivering


@dataclass(frozen=True)
class Reach:
    """Where the bot speaks from in the firm's Teams: the Bot Connector's service URL, the bot's
    account and the tenant. A turn in Teams carries them; the panel takes them from a
    conversation the bot already has in the firm."""

    service_url: str
    bot: dict[str, Any]
    tenant_id: str


@dataclass(frozen=True)
class Undelivered:
    """An offer that stays pending, and why (a message key of both faces, with its values)."""

    offer: Offer
    key: str
    params: dict[str, str] = field(default_factory=dict)


class OfferCourier(Protocol):
    """Carries offers to the contacts in Teams (the bot implements it, both faces use it): the
    offers it could not deliver come back, each recorded as pending with its reason."""

    async def deliver(
        self, actor: Actor, offers: Sequence[Offer], reach: Reach | None = None
    ) -> tuple[Undelivered, ...]: ...


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


async def deliver_offers(
    hub: Hub,
    actor: Actor,
    offers: Sequence[Offer],
    courier: OfferCourier | None,
    reach: Reach | None = None,
) -> tuple[Undelivered, ...]:
    """Hand the offers to the courier; without one (a server that runs no bot), every offer
    stays pending with that reason."""
    if not offers:
        return ()
    if courier is not None:
        return await courier.deliver(actor, offers, reach)
    for offer in offers:
        await offer_unreachable(
            hub, actor, offer.access_id, "no bot on this server", "offers.undelivered.no_bot"
        )
    return tuple(Undelivered(offer, "offers.undelivered.no_bot") for offer in offers)


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
        offer = _offer_of(access, app, dossier, contact, proposer.display_name if proposer else "")
        return OfferStatus(offer=offer, state=access.state)
