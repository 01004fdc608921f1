"""The per-dossier applications dialog (seed 003 §3–5, DESIGN.md workflow 4): every firm
application for the dossier, switched on or off, with the dossier's contacts under those that
need one.

Saving the dialog is "propose a service", the same use-case as in Teams:
:func:`hub.offers.save_applications`. Who may switch an application on or off for a dossier is
:func:`hub.rights.may_activate`; everyone on the staff may look.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.errors import NotFound
from hub.identity import Actor
from hub.portfolio.dossiers import (
    HELD,
    contacts_of_dossier,
    dossier_by_code,
    eligible,
    firm_applications,
)
from hub.rights import may_activate, require_staff
from hub.services import Hub
from hub.tenant import offer_permissions_missing
from storage.models import AuditEvent, Connection, Contact, ContactAccess


@dataclass(frozen=True)
class ContactChoice:
    id: int
    name: str
    email: str
    guest_state: str  # none | invited | guest | failed
    eligible: bool
    chosen: bool = False
    # The contact's offer or access for this application: "" (none), offered, accepted,
    # granted, declined or revoked; an offer still out says whether Teams has it.
    access: str = ""
    delivered: bool = False
    # Why a pending offer did not reach the contact: a message key and its values.
    pending_key: str = ""
    pending_params: tuple[tuple[str, str], ...] = ()

    @property
    def reason(self) -> str:
        """Why the contact cannot be chosen yet (a message key), or "" when it can."""
        return "" if self.eligible else f"portfolio.reason.{self.guest_state}"


@dataclass(frozen=True)
class AppChoice:
    id: int  # the firm application
    label: str
    kind: str
    description: dict[str, str]
    needs_contact: bool
    on: bool
    contacts: tuple[ContactChoice, ...] = ()

    @property
    def chosen_count(self) -> int:
        return sum(1 for c in self.contacts if c.chosen)


@dataclass(frozen=True)
class DossierRef:
    id: int
    code: str
    name: str
    status: str


@dataclass(frozen=True)
class ApplicationsDialog:
    dossier: DossierRef
    applications: tuple[AppChoice, ...]
    may_activate: bool
    preselected: ContactChoice | None = None
    # Graph permissions missing for installing Relais for guests (offers to contacts who never
    # opened Relais stay pending until an administrator grants consent again).
    offer_permissions_missing: tuple[str, ...] = ()


def contact_choice(contact: Contact, chosen: bool = False) -> ContactChoice:
    return ContactChoice(
        id=contact.id,
        name=contact.display_name,
        email=contact.email,
        guest_state=contact.guest_state,
        eligible=eligible(contact),
        chosen=chosen,
    )


async def applications_dialog(
    hub: Hub, actor: Actor, code: str, *, contact_id: int | None = None
) -> ApplicationsDialog:
    """Every firm application for this dossier, switched-on ones selected, with the dossier's
    contacts under those that need one.

    ``contact_id`` comes from "propose a service" on a contact's page: that contact must be one
    of the dossier's; it is ticked in advance under the applications not yet on, so that
    switching one on proposes it to them (and nothing already on changes without a click).
    """
    require_staff(actor)
    async with hub.sessions() as session:
        dossier = await dossier_by_code(session, actor, code)
        contacts = await contacts_of_dossier(session, dossier)
        preselected = None
        if contact_id is not None:
            found = next((c for c in contacts if c.id == contact_id), None)
            if found is None:
                raise NotFound(
                    f"contact {contact_id} is not on dossier {code}", key="portfolio.no_contact"
                )
            preselected = contact_choice(found)
        firm_apps = await firm_applications(session, actor.firm_id)
        on = set(
            await session.scalars(
                select(Connection.firm_application_id).where(
                    Connection.firm_id == actor.firm_id,
                    Connection.dossier_id == dossier.id,
                    Connection.active.is_(True),
                )
            )
        )
        accesses = {
            (access.firm_application_id, access.contact_id): access
            for access in await session.scalars(
                select(ContactAccess).where(
                    ContactAccess.firm_id == actor.firm_id,
                    ContactAccess.dossier_id == dossier.id,
                )
            )
        }
        pending = await _pending_reasons(
            session, actor, [a for a in accesses.values() if a.state == "offered"]
        )
    applications = []
    for app in firm_apps:
        catalog = app.catalog_app
        # An offer still out counts as on: unticking the switch withdraws it.
        is_on = app.id in on or any(
            accesses[(app.id, c.id)].state in HELD for c in contacts if (app.id, c.id) in accesses
        )
        choices: tuple[ContactChoice, ...] = ()
        if catalog.needs_contact:
            choices = tuple(
                _choice(
                    c,
                    accesses.get((app.id, c.id)),
                    pending,
                    preselect=not is_on
                    and preselected is not None
                    and preselected.id == c.id
                    and preselected.eligible,
                )
                for c in contacts
            )
        applications.append(
            AppChoice(
                id=app.id,
                label=catalog.label,
                kind=catalog.kind,
                description=dict(catalog.description or {}),
                needs_contact=catalog.needs_contact,
                on=is_on,
                contacts=choices,
            )
        )
    missing = (
        await offer_permissions_missing(hub, actor)
        if any(a.needs_contact for a in applications)
        else ()
    )
    return ApplicationsDialog(
        dossier=DossierRef(dossier.id, dossier.code, dossier.name, dossier.status),
        applications=tuple(applications),
        may_activate=may_activate(actor, dossier),
        preselected=preselected,
        offer_permissions_missing=missing,
    )


def _choice(
    contact: Contact,
    access: ContactAccess | None,
    pending: Mapping[int, tuple[str, tuple[tuple[str, str], ...]]],
    *,
    preselect: bool,
) -> ContactChoice:
    state = access.state if access is not None else ""
    key, params = pending.get(access.id, ("", ())) if access is not None else ("", ())
    return dataclasses.replace(
        contact_choice(contact, chosen=state in HELD or preselect),
        access=state,
        delivered=bool(access is not None and access.activity_id),
        pending_key=key if state == "offered" and not (access and access.activity_id) else "",
        pending_params=tuple(
            {"contact": contact.display_name, "detail": "—", **dict(params)}.items()
        ),
    )


async def _pending_reasons(
    session: AsyncSession, actor: Actor, offers: list[ContactAccess]
) -> dict[int, tuple[str, tuple[tuple[str, str], ...]]]:
    """Why each offer still out did not reach its contact: the last ``offer.unreachable`` event
    written for it (by :func:`hub.offers.offer_unreachable`)."""
    undelivered = [a for a in offers if not a.activity_id]
    if not undelivered:
        return {}
    ids = {a.id for a in undelivered}
    events = await session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.firm_id == actor.firm_id,
            AuditEvent.action == "offer.unreachable",
            AuditEvent.target_type == "contact",
            AuditEvent.target_id.in_({str(a.contact_id) for a in undelivered}),
        )
        .order_by(AuditEvent.id)
    )
    found: dict[int, tuple[str, tuple[tuple[str, str], ...]]] = {}
    for event in events:
        access = event.details.get("access")
        if access in ids:
            params = event.details.get("reason_params") or {}
            found[int(access)] = (
                str(event.details.get("reason_key") or "offers.undelivered.teams"),
                tuple((str(k), str(v)) for k, v in dict(params).items()),
            )
    return found
