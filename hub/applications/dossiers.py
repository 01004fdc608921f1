"""The wizard's dossier selection in SQL: a :class:`~hub.applications.views.Selection` rule becomes
a WHERE clause, counted and paged by the database ("apply to all" never lists 10,000 ids).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, false, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from hub.applications.views import DossierRow, Selection
from hub.paging import PER_PAGE, Page
from hub.portfolio import dossier_search
from storage.models import Dossier


def search_where(query: str | None) -> ColumnElement[bool]:
    """Code or name contains the term, case-insensitively (``hub.paging.search_term`` checked it)."""
    if not query:
        return true()
    return dossier_search(query)


def selection_where(firm_id: int, rule: Selection) -> ColumnElement[bool]:
    parts: list[ColumnElement[bool]] = []
    if rule.included:
        parts.append(Dossier.id.in_(sorted(rule.included)))
    if rule.all:
        every = search_where(rule.query)
        if rule.excluded:
            every = and_(every, Dossier.id.not_in(sorted(rule.excluded)))
        parts.append(every)
    if not parts:
        return false()
    return and_(Dossier.firm_id == firm_id, or_(*parts))


async def count_dossiers(session: AsyncSession, where: ColumnElement[bool]) -> int:
    return int(await session.scalar(select(func.count()).select_from(Dossier).where(where)) or 0)


async def dossier_page(
    session: AsyncSession, where: ColumnElement[bool], rule: Selection, firm_id: int, number: int
) -> Page[DossierRow]:
    total = await count_dossiers(session, where)
    pages = max(1, -(-total // PER_PAGE))
    number = min(max(1, number), pages)
    selected = selection_where(firm_id, rule)
    rows = await session.execute(
        select(Dossier.id, Dossier.code, Dossier.name, Dossier.status, selected)
        .where(where)
        .order_by(Dossier.code)
        .offset((number - 1) * PER_PAGE)
        .limit(PER_PAGE)
    )
    items = [
        DossierRow(id=i, code=c, name=n, status=s, selected=bool(sel)) for i, c, n, s, sel in rows
    ]
    return Page(items=items, number=number, per_page=PER_PAGE, total=total)
