"""Proposing services (seed 003 §5): the bot's ``propose`` (one contact, adding) and the panel's
applications dialog (:func:`save_applications`, the dossier's whole choice, adding and
withdrawing). Both record offers the same way (:mod:`hub.offers.records`); the offers made still
have to reach the contacts (:func:`hub.offers.deliver_offers`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from hub.errors import Conflict, InvalidInput, NotFound
from hub.identity import Actor
from hub.offers.records import (
    STANDING,
    describe,
    dossier_accesses,
    dossier_connections,
    make_offer,
    offer_of,
    revoke_access,
    switch_application,
)
from hub.portfolio import HELD, contacts_of_dossier, dossier_by_code, eligible, firm_applications
from hub.ports import Offer
from hub.rights import require_activate
from hub.services import Hub
from storage.models import Connection, Contact, ContactAccess, Dossier, FirmApplication, utcnow


@dataclass(frozen=True)
class Proposable:
    """An application the accountant may tick, with its description in their language."""

    id: int
    label: str
    description: str


@dataclass(frozen=True)
class Proposal:
    offers: tuple[Offer, ...] = ()
    switched_on: tuple[str, ...] = ()  # applications turned on without a contact
    already: tuple[str, ...] = ()  # offered or held before: nothing sent again


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
            Proposable(app.id, app.catalog_app.label, describe(app, lang or actor.locale))
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
        connections = await dossier_connections(session, dossier, chosen, now)
        if contact is None:
            switched = [
                app.catalog_app.label
                for app in chosen
                if switch_application(session, actor, dossier, app, connections[app.id], True, now)
            ]
            return Proposal(
                switched_on=tuple(switched),
                already=tuple(
                    a.catalog_app.label for a in chosen if a.catalog_app.label not in switched
                ),
            )
        accesses = await dossier_accesses(session, dossier)
        offers, already = [], []
        for app in chosen:
            access = accesses.get((app.id, contact.id))
            if access is not None and access.state in STANDING:
                already.append(app.catalog_app.label)
            else:
                offers.append(await make_offer(session, actor, dossier, contact, app, access, now))
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
        saving = await _Saving.start(session, actor, dossier, now)
        saving.check(firm_apps, choices, await dossier_connections(session, dossier, [], now))
        connections = await dossier_connections(
            session, dossier, saving.to_connect(firm_apps, choices), now
        )
        for app_id, app in firm_apps.items():
            connection = connections.get(app_id)
            if not app.catalog_app.needs_contact:
                saving.switch(app, connection, app_id in choices)
                continue
            if app_id not in choices:
                saving.switch(app, connection, False)
            await saving.offer(app, set(choices.get(app_id, ())))
    return saving.result


@dataclass
class _Saving:
    """One save of the applications dialog: the dossier's contacts and offers as they were, and
    what changed so far."""

    session: AsyncSession
    actor: Actor
    dossier: Dossier
    now: datetime
    contacts: dict[int, Contact]
    accesses: dict[tuple[int, int], ContactAccess]
    held: set[tuple[int, int]]  # (application, contact) offered or holding an access
    result: SaveResult = field(default_factory=SaveResult)

    @classmethod
    async def start(
        cls, session: AsyncSession, actor: Actor, dossier: Dossier, now: datetime
    ) -> _Saving:
        contacts = {c.id: c for c in await contacts_of_dossier(session, dossier)}
        accesses = await dossier_accesses(session, dossier)
        held = {k for k, access in accesses.items() if access.state in HELD and k[1] in contacts}
        return cls(session, actor, dossier, now, contacts, accesses, held)

    def holders(self, app_id: int) -> set[int]:
        return {c for a, c in self.held if a == app_id}

    def check(
        self,
        firm_apps: Mapping[int, FirmApplication],
        choices: Mapping[int, Collection[int]],
        existing: Mapping[int, Connection],
    ) -> None:
        for app_id, contact_ids in choices.items():
            _check_choice(
                firm_apps[app_id],
                set(contact_ids),
                self.contacts,
                self.dossier.code,
                on=app_id in existing and existing[app_id].active,
                holding=bool(self.holders(app_id)),
            )

    def to_connect(
        self, firm_apps: Mapping[int, FirmApplication], choices: Mapping[int, Collection[int]]
    ) -> list[FirmApplication]:
        """The applications that need a connection: offered to someone new, or switched on."""
        offered = [
            app
            for app_id, app in firm_apps.items()
            if app.catalog_app.needs_contact and set(choices.get(app_id, ())) - self.holders(app_id)
        ]
        wanted_on = [
            app
            for app_id, app in firm_apps.items()
            if app_id in choices and not app.catalog_app.needs_contact
        ]
        return offered + wanted_on

    def switch(self, app: FirmApplication, connection: Connection | None, on: bool) -> None:
        if connection is not None and switch_application(
            self.session, self.actor, self.dossier, app, connection, on, self.now
        ):
            (self.result.switched_on if on else self.result.switched_off).append(
                app.catalog_app.label
            )

    async def offer(self, app: FirmApplication, wanted: set[int]) -> None:
        """Offer ``app`` to the contacts newly ticked, again to those whose offer never reached
        them, and withdraw it from those left out."""
        for cid in sorted(wanted):
            access = self.accesses.get((app.id, cid))
            if (app.id, cid) not in self.held:
                self.result.offered.append(
                    await make_offer(
                        self.session,
                        self.actor,
                        self.dossier,
                        self.contacts[cid],
                        app,
                        access,
                        self.now,
                    )
                )
            elif access is not None and access.state == "offered" and not access.activity_id:
                # Still pending and never delivered: saving again tries to deliver it again.
                self.result.offered.append(
                    offer_of(access, app, self.dossier, self.contacts[cid], self.actor.display_name)
                )
        for cid in sorted(self.holders(app.id) - wanted):
            contact = self.contacts[cid]
            revoke_access(
                self.session,
                self.actor,
                self.dossier,
                app,
                contact,
                self.accesses[(app.id, cid)],
                self.now,
            )
            self.result.revoked.append(f"{app.catalog_app.label} · {contact.display_name}")


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
