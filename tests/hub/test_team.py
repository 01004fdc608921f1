"""Roles and the rights-managers group: only administrators change them, the firm keeps one
administrator, every change is audited, and another firm's staff are out of reach."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from hub.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from hub.identity import Actor, resolve
from hub.team import list_staff, update_staff
from relais.demo import DEMO_STAFF
from storage.models import AuditEvent, Firm, StaffUser

CLAIRE, MARC, SOPHIE, JAMES = (row[0] for row in DEMO_STAFF)


async def actor(sessions: Any, demo: Any, object_id: str = CLAIRE) -> Actor:
    return await resolve(sessions, demo.tenant_id, object_id)


async def test_list_search_and_pages(hub: Any, sessions: Any, demo: Any) -> None:
    james = await actor(sessions, demo, JAMES)  # anyone on the staff may read the team
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
    hub: Any, sessions: Any, demo: Any
) -> None:
    claire = await actor(sessions, demo)
    sophie = await actor(sessions, demo, SOPHIE)
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
async def test_only_administrators_change_rights(
    hub: Any, sessions: Any, demo: Any, who: str
) -> None:
    person = await actor(sessions, demo, who)
    with pytest.raises(PermissionDenied):
        await update_staff(hub, person, person.id, role="administrator", rights_manager=True)
    assert (await actor(sessions, demo, who)).role == "collaborator"


async def test_the_last_administrator_stays(hub: Any, sessions: Any, demo: Any) -> None:
    claire = await actor(sessions, demo)
    with pytest.raises(Conflict) as refused:
        await update_staff(hub, claire, claire.id, role="collaborator", rights_manager=False)
    assert refused.value.key == "team.last_admin"
    marc = await actor(sessions, demo, MARC)
    await update_staff(hub, claire, marc.id, role="administrator", rights_manager=True)
    await update_staff(hub, claire, claire.id, role="collaborator", rights_manager=False)
    assert (await actor(sessions, demo)).role == "collaborator"


async def test_another_firms_staff_are_not_found(hub: Any, sessions: Any, demo: Any) -> None:
    async with sessions() as session, session.begin():
        firm = Firm(name="Cabinet Bis", tenant_id="22222222-2222-4222-8222-222222222222")
        session.add(firm)
        await session.flush()
        other = StaffUser(
            firm_id=firm.id,
            entra_object_id="e0000000-0000-4000-8000-000000000001",
            email="boss@bis.fr",
            display_name="Boss Bis",
        )
        session.add(other)
        await session.flush()
        other_id = other.id
    claire = await actor(sessions, demo)
    with pytest.raises(NotFound):
        await update_staff(hub, claire, other_id, role="administrator", rights_manager=True)
    assert "Boss Bis" not in [r.display_name for r in (await list_staff(hub, claire)).items]
