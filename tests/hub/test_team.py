"""Roles and the rights-managers group: only administrators change them, the firm keeps one
administrator, every change is audited, and another firm's staff are out of reach."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from hub.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from hub.identity import Actor
from hub.team import list_staff, update_staff
from storage.models import AuditEvent
from tests import scenes

CLAIRE, MARC, SOPHIE, JAMES = "Claire Durand", "Marc Lefèvre", "Sophie Martin", "James Walker"
STAFF = {
    CLAIRE: "administrator",
    MARC: "rights manager",
    SOPHIE: "collaborator",
    JAMES: "collaborator",
}


@pytest.fixture
async def firm(sessions: Any) -> scenes.FirmScene:
    return await scenes.firm(sessions, "Durand & Associés", domain="durand-associes.fr")


@pytest.fixture
async def people(sessions: Any, firm: scenes.FirmScene) -> dict[str, scenes.Person]:
    """One administrator, one rights manager, two collaborators."""
    return await scenes.team(sessions, firm, STAFF)


@pytest.fixture
def actor(sessions: Any, firm: scenes.FirmScene, people: dict[str, scenes.Person]) -> Any:
    async def resolve(name: str = CLAIRE) -> Actor:
        return await scenes.actor(sessions, firm, people[name])

    return resolve


async def test_list_search_and_pages(hub: Any, actor: Any) -> None:
    james = await actor(JAMES)  # anyone on the staff may read the team
    page = await list_staff(hub, james)
    assert [row.display_name for row in page.items] == [
        "Claire Durand",
        "James Walker",
        "Marc Lefèvre",
        "Sophie Martin",
    ]
    assert (await list_staff(hub, james, "MARTIN")).total == 1
    assert (await list_staff(hub, james, "durand-associes")).total == 4
    second = await list_staff(hub, james, page=2, per_page=3)
    assert [row.display_name for row in second.items] == ["Sophie Martin"]
    with pytest.raises(InvalidInput):
        await list_staff(hub, james, "ma")


async def test_admin_changes_role_and_flag_with_one_audit_event(
    hub: Any, sessions: Any, actor: Any
) -> None:
    claire = await actor()
    sophie = await actor(SOPHIE)
    row = await update_staff(hub, claire, sophie.id, role="collaborator", rights_manager=True)
    assert row.rights_manager
    # The same values again: nothing to record.
    await update_staff(hub, claire, sophie.id, role="collaborator", rights_manager=True)
    async with sessions() as session:
        events = list(
            await session.scalars(select(AuditEvent).where(AuditEvent.action == "staff.updated"))
        )
    assert len(events) == 1
    assert events[0].actor == claire.ref and events[0].target_id == str(sophie.id)
    assert events[0].details == {
        "before": {"role": "collaborator", "rights_manager": False},
        "after": {"role": "collaborator", "rights_manager": True},
    }
    with pytest.raises(InvalidInput):
        await update_staff(hub, claire, sophie.id, role="boss", rights_manager=False)


@pytest.mark.parametrize("who", [MARC, JAMES], ids=["rights-manager", "collaborator"])
async def test_only_administrators_change_rights(hub: Any, actor: Any, who: str) -> None:
    person = await actor(who)
    with pytest.raises(PermissionDenied):
        await update_staff(hub, person, person.id, role="administrator", rights_manager=True)
    assert (await actor(who)).role == "collaborator"


async def test_the_last_administrator_stays(hub: Any, actor: Any) -> None:
    claire = await actor()
    with pytest.raises(Conflict) as refused:
        await update_staff(hub, claire, claire.id, role="collaborator", rights_manager=False)
    assert refused.value.key == "team.last_admin"
    marc = await actor(MARC)
    await update_staff(hub, claire, marc.id, role="administrator", rights_manager=True)
    await update_staff(hub, claire, claire.id, role="collaborator", rights_manager=False)
    assert (await actor()).role == "collaborator"


async def test_another_firms_staff_are_not_found(hub: Any, sessions: Any, actor: Any) -> None:
    bis = await scenes.firm(sessions, "Cabinet Bis", domain="bis.fr", catalog=False)
    other = await scenes.staff(sessions, bis, "collaborator", name="Boss Bis")
    claire = await actor()
    with pytest.raises(NotFound):
        await update_staff(hub, claire, other.id, role="administrator", rights_manager=True)
    assert "Boss Bis" not in [r.display_name for r in (await list_staff(hub, claire)).items]
