"""The firm's dossiers as pages of rows, with their status, Teams status and figures: the
portfolio (one's own dossiers, or the whole firm for those who see it) and the firm's full list.

The Teams status and the number of applications are computed by the listing query (never read
from a stored column that could go stale): a dossier is "operational" as soon as one of its
contacts is a guest on the firm's tenant whom the bot can reach.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from hub.identity import Actor
from hub.paging import PER_PAGE, Page
from hub.portfolio.dossiers import dossier_search, reachable_guest
from hub.rights import may_activate, require_staff, sees_all_dossiers
from hub.services import Hub
from storage.models import Connection, Contact, ContactDossier, Dossier, StaffUser

SCOPES = ("mine", "all")


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


@dataclass(frozen=True)
class PortfolioView:
    scope: str  # mine | all
    can_see_all: bool
    page: Page[DossierRow]


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


async def list_dossiers(
    hub: Hub, actor: Actor, *, term: str | None = None, page: int = 1
) -> Page[DossierRow]:
    """Every dossier of the actor's firm (the portfolio is the personal view of the same rows);
    every staff member may read it."""
    require_staff(actor)
    conditions = [dossier_search(term)] if term else []
    async with hub.sessions() as session:
        return await dossier_rows(session, actor, conditions, page)
