"""The portfolio and the per-dossier applications dialog (seed 003 §3–5, DESIGN.md workflow 4).

Saving the dialog is "propose a service", the same use-case as in Teams:
:func:`hub.offers.save_applications`.

Who may switch an application on or off for a dossier is :func:`hub.rights.may_activate`; everyone
on the staff may look. The Teams status and the number of applications are computed by the listing
query (never read from a stored column that could go stale): a dossier is "operational" as soon as
one of its contacts is a guest on the firm's tenant whom the bot can reach.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from hub.errors import NotFound
from hub.identity import Actor
from hub.paging import PER_PAGE, Page, like_pattern
from hub.rights import may_activate, require_staff, sees_all_dossiers
from hub.services import Hub
from hub.tenant import offer_permissions_missing
from storage.models import (
    AuditEvent,
    CatalogApp,
    Connection,
    Contact,
    ContactAccess,
    ContactDossier,
    Dossier,
    FirmApplication,
    StaffUser,
)

SCOPES = ("mine", "all")
# A contact holds the application while its access is in one of these states; "offered" counts
# because the offer is out in Teams and unticking it must withdraw it.
HELD = ("granted", "offered", "accepted")


# --------------------------------------------------------------------------- listing rows


@dataclass(frozen=True)
class DossierRow:
    id: int
    code: str
    name: str
    status: str  # active | inactive | archived
    teams_status: str  # to_prepare | operational
    applications: int
    contacts: int
    master: str
    engagement_manager: str
    may_activate: bool


def reachable_guest() -> ColumnElement[bool]:
    """A contact the bot can talk to: a guest on the tenant with a known Entra object id."""
    return and_(Contact.guest_state == "guest", Contact.entra_object_id.is_not(None))


def dossier_search(term: str) -> ColumnElement[bool]:
    pattern = like_pattern(term)
    return or_(
        func.lower(Dossier.code).like(pattern, escape="\\"),
        func.lower(Dossier.name).like(pattern, escape="\\"),
    )


async def dossier_rows(
    session: AsyncSession,
    actor: Actor,
    conditions: list[ColumnElement[bool]],
    page: int,
    per_page: int = PER_PAGE,
) -> Page[DossierRow]:
    """One page of the actor's firm's dossiers matching ``conditions``, with their figures.

    The page's ids are picked first (a CTE), and the counts are grouped subqueries limited to
    those ids, so the cost stays that of 50 rows however many dossiers and connections the firm
    has — no query per row.
    """
    where = [Dossier.firm_id == actor.firm_id, *conditions]
    total = await session.scalar(select(func.count()).select_from(Dossier).where(*where)) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    ids = (
        select(Dossier.id)
        .where(*where)
        .order_by(Dossier.code, Dossier.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
        .cte("page_ids")
    )
    on_page = select(ids.c.id)
    apps = (
        select(Connection.dossier_id, func.count().label("n"))
        .where(Connection.active.is_(True), Connection.dossier_id.in_(on_page))
        .group_by(Connection.dossier_id)
        .subquery()
    )
    people = (
        select(ContactDossier.dossier_id, func.count().label("n"))
        .where(ContactDossier.dossier_id.in_(on_page))
        .group_by(ContactDossier.dossier_id)
        .subquery()
    )
    guests = (
        select(ContactDossier.dossier_id, func.count().label("n"))
        .join(Contact, Contact.id == ContactDossier.contact_id)
        .where(ContactDossier.dossier_id.in_(on_page), reachable_guest())
        .group_by(ContactDossier.dossier_id)
        .subquery()
    )
    master, manager = aliased(StaffUser), aliased(StaffUser)
    stmt = (
        select(
            Dossier,
            func.coalesce(apps.c.n, 0),
            func.coalesce(people.c.n, 0),
            func.coalesce(guests.c.n, 0),
            master.display_name,
            manager.display_name,
        )
        .join(ids, ids.c.id == Dossier.id)
        .outerjoin(apps, apps.c.dossier_id == Dossier.id)
        .outerjoin(people, people.c.dossier_id == Dossier.id)
        .outerjoin(guests, guests.c.dossier_id == Dossier.id)
        .outerjoin(master, master.id == Dossier.master_id)
        .outerjoin(manager, manager.id == Dossier.engagement_manager_id)
        .order_by(Dossier.code, Dossier.id)
    )
    items = [
        DossierRow(
            id=dossier.id,
            code=dossier.code,
            name=dossier.name,
            status=dossier.status,
            teams_status="operational" if reachable else "to_prepare",
            applications=int(n_apps),
            contacts=int(n_people),
            master=master_name or "",
            engagement_manager=manager_name or "",
            may_activate=may_activate(actor, dossier),
        )
        for dossier, n_apps, n_people, reachable, master_name, manager_name in (
            await session.execute(stmt)
        )
    ]
    return Page(items=items, number=page, per_page=per_page, total=total)


@dataclass(frozen=True)
class PortfolioView:
    scope: str  # mine | all
    can_see_all: bool
    page: Page[DossierRow]


async def list_portfolio(
    hub: Hub, actor: Actor, *, scope: str = "mine", term: str | None = None, page: int = 1
) -> PortfolioView:
    """The dossiers the actor is master or engagement manager of; the whole firm on request for
    administrators and rights managers (asking for it otherwise quietly shows one's own: it is a
    view, not an action, and there is nothing to refuse)."""
    require_staff(actor)
    can_see_all = sees_all_dossiers(actor)
    scope = "all" if scope == "all" and can_see_all else "mine"
    conditions: list[ColumnElement[bool]] = []
    if scope == "mine":
        conditions.append(
            or_(Dossier.master_id == actor.id, Dossier.engagement_manager_id == actor.id)
        )
    if term:
        conditions.append(dossier_search(term))
    async with hub.sessions() as session:
        rows = await dossier_rows(session, actor, conditions, page)
    return PortfolioView(scope=scope, can_see_all=can_see_all, page=rows)


# --------------------------------------------------------------------------- the dialog


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


async def dossier_by_code(session: AsyncSession, actor: Actor, code: str) -> Dossier:
    """The actor's firm's dossier, or NotFound — the same answer whether or not another firm has
    a dossier of that code."""
    dossier = await session.scalar(
        select(Dossier).where(Dossier.firm_id == actor.firm_id, Dossier.code == code)
    )
    if dossier is None:
        raise NotFound(f"no dossier {code!r} in firm {actor.firm_id}", key="portfolio.no_dossier")
    return dossier


async def contact_by_id(session: AsyncSession, actor: Actor, contact_id: int) -> Contact:
    """The actor's firm's contact, or NotFound (whether or not another firm has that id)."""
    contact = await session.scalar(
        select(Contact).where(Contact.firm_id == actor.firm_id, Contact.id == contact_id)
    )
    if contact is None:
        raise NotFound(f"no contact {contact_id} in firm {actor.firm_id}", key="contacts.none")
    return contact


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


def eligible(contact: Contact) -> bool:
    return contact.guest_state == "guest" and contact.entra_object_id is not None


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
