"""The firm's staff: the list everyone may read, roles and the rights-managers group (seed 003 §4)
that only administrators change."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from hub import audit
from hub.errors import Conflict, InvalidInput, NotFound
from hub.identity import Actor
from hub.paging import PER_PAGE, Page, contains, search_term
from hub.rights import require_admin, require_staff
from hub.services import Hub
from storage.models import StaffUser

ROLES = ("administrator", "collaborator")


@dataclass(frozen=True)
class StaffRow:
    id: int
    display_name: str
    email: str
    role: str
    rights_manager: bool
    active: bool

    @property
    def is_admin(self) -> bool:
        return self.role == "administrator"


def _row(user: StaffUser) -> StaffRow:
    return StaffRow(
        user.id, user.display_name, user.email, user.role, user.rights_manager, user.active
    )


async def list_staff(
    hub: Hub, actor: Actor, query: str | None = None, page: int = 1, per_page: int = PER_PAGE
) -> Page[StaffRow]:
    """The firm's staff, active first, by name; search on name or email from 3 characters."""
    require_staff(actor)
    term = search_term(query)
    where = [StaffUser.firm_id == actor.firm_id]
    if term:
        where.append(contains(term, StaffUser.display_name, StaffUser.email))
    async with hub.sessions() as session:
        total = await session.scalar(select(func.count()).select_from(StaffUser).where(*where))
        users = await session.scalars(
            select(StaffUser)
            .where(*where)
            .order_by(StaffUser.active.desc(), StaffUser.display_name, StaffUser.id)
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
        return Page([_row(u) for u in users], page, per_page, total or 0)


async def update_staff(
    hub: Hub, actor: Actor, staff_id: int, *, role: str, rights_manager: bool
) -> StaffRow:
    """Change a person's role and rights-managers membership; the firm keeps one administrator."""
    require_admin(actor)
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}", field="role", key="team.bad_role")
    async with hub.sessions() as session, session.begin():
        user = await session.scalar(
            select(StaffUser)
            .where(StaffUser.id == staff_id, StaffUser.firm_id == actor.firm_id)
            # Two administrators demoting each other at once must not both succeed.
            .with_for_update()
        )
        if user is None:
            raise NotFound(f"no staff {staff_id} in firm {actor.firm_id}")
        before = {"role": user.role, "rights_manager": user.rights_manager}
        after = {"role": role, "rights_manager": rights_manager}
        if before == after:
            return _row(user)
        if user.role == "administrator" and role != "administrator" and user.active:
            others = await session.scalar(
                select(func.count())
                .select_from(StaffUser)
                .where(
                    StaffUser.firm_id == actor.firm_id,
                    StaffUser.role == "administrator",
                    StaffUser.active.is_(True),
                    StaffUser.id != user.id,
                )
            )
            if not others:
                raise Conflict(
                    f"{user.email} is the last administrator",
                    key="team.last_admin",
                    name=user.display_name,
                )
        user.role = role
        user.rights_manager = rights_manager
        audit.record(
            session,
            actor.firm_id,
            actor.ref,
            "staff.updated",
            "staff_user",
            user.id,
            before=before,
            after=after,
        )
        return _row(user)
