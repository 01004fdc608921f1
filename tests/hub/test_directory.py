"""Dossiers and contacts lists, a contact's dossiers, linking and unlinking, on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hub.contacts import (
    contact_card,
    contact_dossiers,
    dossiers_to_link,
    link_dossier,
    list_contacts,
    unlink_dossier,
)
from hub.errors import Conflict, NotFound, PermissionDenied
from hub.offers import save_applications
from hub.portfolio import list_dossiers
from hub.services import Hub
from relais.demo import DemoInfo
from storage.db import Sessions
from storage.models import AuditEvent, Contact, ContactAccess, ContactDossier, Dossier, Firm
from tests.hub.test_portfolio import Scene, add_firm_applications, count, make_scene


@pytest.fixture
async def scene(sessions: Sessions, demo: DemoInfo) -> Scene:
    return await make_scene(sessions, demo)


async def test_dossiers_list_is_the_whole_firm_for_everyone_with_rights_per_row(
    hub: Hub, scene: Scene
) -> None:
    for actor in (scene.claire, scene.other):
        page = await list_dossiers(hub, actor)
        assert page.total == 201 and len(page.items) == 50
    found = await list_dossiers(hub, scene.other, term="ZZT")
    row = found.items[0]
    assert (row.code, row.master, row.engagement_manager, row.contacts) == (
        "ZZT001",
        "Sophie Martin",
        "James Walker",
        3,
    )
    assert not row.may_activate
    assert (await list_dossiers(hub, scene.sophie, term="ZZT")).items[0].may_activate


async def test_contacts_list_search_and_guest_state(hub: Hub, scene: Scene) -> None:
    page = await list_contacts(hub, scene.other)
    assert page.total == 63 and len(page.items) == 50
    for term in ("gaëlle inv", "INVITÉE GAË", "gaelle@zzt"):
        found = await list_contacts(hub, scene.other, term=term)
        assert [(c.name, c.guest_state, c.dossiers) for c in found.items] == [
            ("Gaëlle Invitée", "guest", 1)
        ], term
    assert [
        c.guest_state for c in (await list_contacts(hub, scene.other, term="zzt.fr")).items
    ] == [
        "invited",
        "guest",
        "none",
    ]


async def test_contact_page_and_its_dossiers(hub: Hub, scene: Scene) -> None:
    card = await contact_card(hub, scene.other, scene.invited)
    assert (card.name, card.email, card.guest_state) == ("Ivan Enattente", "ivan@zzt.fr", "invited")
    linked = await contact_dossiers(hub, scene.other, scene.invited)
    assert [d.code for d in linked.items] == ["ZZT001"]
    candidates = await dossiers_to_link(hub, scene.other, scene.invited, "zzt")
    assert candidates.total == 0  # already linked
    candidates = await dossiers_to_link(hub, scene.other, scene.invited, "bla0")
    assert "BLA011" in [d.code for d in candidates.items]


async def test_link_and_unlink_need_the_right_to_activate(
    hub: Hub, sessions: Sessions, scene: Scene
) -> None:
    with pytest.raises(PermissionDenied):
        await link_dossier(hub, scene.other, scene.guest, "BLA011")
    # Sophie may activate on her own dossiers, not on one she neither masters nor manages.
    async with sessions() as session:
        foreign = await session.scalar(
            select(Dossier.code)
            .where(
                Dossier.master_id != scene.sophie.id,
                Dossier.engagement_manager_id != scene.sophie.id,
            )
            .order_by(Dossier.code)
        )
    assert foreign is not None
    with pytest.raises(PermissionDenied):
        await link_dossier(hub, scene.sophie, scene.guest, foreign)
    await link_dossier(hub, scene.marc, scene.guest, "BLA011")
    assert [d.code for d in (await contact_dossiers(hub, scene.claire, scene.guest)).items] == [
        "BLA011",
        "ZZT001",
    ]
    with pytest.raises(Conflict):
        await link_dossier(hub, scene.marc, scene.guest, "BLA011")
    assert await count(sessions, AuditEvent, AuditEvent.action == "contact.dossier_linked") == 1


async def test_unlinking_revokes_the_contacts_applications_on_that_dossier(
    hub: Hub, sessions: Sessions, scene: Scene
) -> None:
    await save_applications(hub, scene.sophie, scene.code, {scene.apps["start"]: [scene.guest]})
    with pytest.raises(PermissionDenied):
        await unlink_dossier(hub, scene.other, scene.guest, scene.code)
    assert await unlink_dossier(hub, scene.sophie, scene.guest, scene.code) == 1
    assert await count(sessions, ContactAccess, ContactAccess.state == "revoked") == 1
    assert await count(sessions, ContactDossier, ContactDossier.contact_id == scene.guest) == 0
    with pytest.raises(NotFound):
        await unlink_dossier(hub, scene.sophie, scene.guest, scene.code)


async def test_another_firms_contacts_and_dossiers_are_not_found(
    hub: Hub, sessions: Sessions, scene: Scene
) -> None:
    async with sessions() as session, session.begin():
        other = Firm(name="Autre Cabinet", tenant_id="00000000-0000-4000-8000-00000000b0b0")
        session.add(other)
        await session.flush()
        session.add(Dossier(firm_id=other.id, code="BOB001", name="Dossier de B"))
        bob = Contact(firm_id=other.id, first_name="Bob", last_name="Autre", email="bob@b.fr")
        session.add(bob)
        await session.flush()
        bob_id = bob.id
    await add_firm_applications(sessions, other.id, ("start",))
    calls = [
        contact_card(hub, scene.claire, bob_id),
        contact_dossiers(hub, scene.claire, bob_id),
        dossiers_to_link(hub, scene.claire, bob_id, "bob"),
        link_dossier(hub, scene.claire, bob_id, scene.code),
        link_dossier(hub, scene.claire, scene.guest, "BOB001"),
        unlink_dossier(hub, scene.claire, bob_id, scene.code),
        unlink_dossier(hub, scene.claire, scene.guest, "BOB001"),
    ]
    for call in calls:
        with pytest.raises(NotFound):
            await call
    assert (await list_contacts(hub, scene.claire, term="bob@b")).total == 0
    assert (await list_dossiers(hub, scene.claire, term="BOB001")).total == 0
    assert await count(sessions, ContactDossier, ContactDossier.contact_id == bob_id) == 0
