"""How offers and switches are written: the rows of the offers package's use-cases, shared by
proposing from Teams (:mod:`hub.offers.propose`) and saving the panel's applications dialog, so
both record the same way. Callers hold the transaction; nothing here commits.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.audit import record
from hub.i18n import language_of
from hub.identity import Actor
from hub.ports import Offer
from storage.models import Connection, Contact, ContactAccess, Dossier, FirmApplication

# A contact holds the offer once it is in one of these states: offering it again sends nothing.
STANDING = ("offered", "accepted", "granted")


def describe(app: FirmApplication, lang: str) -> str:
    description = app.catalog_app.description or {}
    return str(description.get(language_of(lang)) or next(iter(description.values()), ""))


async def dossier_connections(
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


async def dossier_accesses(
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


def switch_application(
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


def record_for_contact(
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


def revoke_access(
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
    record_for_contact(session, actor, "contact_access.revoked", dossier, app, contact)


async def make_offer(
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
    record_for_contact(session, actor, "offer.sent", dossier, app, contact)
    return offer_of(access, app, dossier, contact, actor.display_name)


def offer_of(
    access: ContactAccess,
    app: FirmApplication,
    dossier: Dossier,
    contact: Contact,
    proposer: str,
) -> Offer:
    return Offer(
        access_id=access.id,
        application=app.catalog_app.label,
        description=describe(app, contact.locale),
        dossier_code=dossier.code,
        dossier_name=dossier.name,
        contact_id=contact.id,
        contact_name=contact.display_name,
        contact_object_id=contact.entra_object_id or "",
        contact_locale=contact.locale,
        proposed_by=proposer,
    )
