"""The portfolio and the applications dialog, rule by rule (seed 003 §3–5), on both databases."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from hub.errors import InvalidInput, NotFound, PermissionDenied
from hub.identity import Actor, staff_actor
from hub.offers import remember_offer_message, save_applications
from hub.portfolio import applications_dialog, list_portfolio
from hub.services import Hub
from relais.demo import DemoInfo
from storage.db import Sessions
from storage.models import (
    AuditEvent,
    CatalogApp,
    Connection,
    Contact,
    ContactAccess,
    ContactDossier,
    Dossier,
    Firm,
    FirmApplication,
    StaffUser,
)

# --------------------------------------------------------------------------- arranging data


async def add_firm_applications(
    sessions: Sessions,
    firm_id: int,
    slugs: tuple[str, ...] = ("start", "coproduction", "ocr-achats"),
) -> dict[str, int]:
    """The firm's applications by catalog slug (the add wizard is another area's work)."""
    async with sessions() as session, session.begin():
        catalog = {a.slug: a.id for a in await session.scalars(select(CatalogApp))}
        apps = [FirmApplication(firm_id=firm_id, catalog_app_id=catalog[s]) for s in slugs]
        session.add_all(apps)
        await session.flush()
        return {slug: app.id for slug, app in zip(slugs, apps, strict=True)}


async def actor_named(sessions: Sessions, firm_id: int, name: str) -> Actor:
    async with sessions() as session:
        firm = await session.get(Firm, firm_id)
        user = await session.scalar(
            select(StaffUser).where(StaffUser.firm_id == firm_id, StaffUser.display_name == name)
        )
        assert firm is not None and user is not None
        return staff_actor(firm, user)


@dataclass
class Scene:
    """A dossier Sophie is master of and James engagement manager, with three contacts: a guest,
    an invited one and one never invited."""

    code: str
    apps: dict[str, int]
    guest: int
    invited: int
    uninvited: int
    claire: Actor  # administrator
    marc: Actor  # rights manager
    sophie: Actor  # master
    james: Actor  # engagement manager
    other: Actor  # a collaborator with nothing to do with the dossier


async def make_scene(sessions: Sessions, demo: DemoInfo) -> Scene:
    apps = await add_firm_applications(sessions, demo.firm_id)
    async with sessions() as session, session.begin():
        staff = {
            u.display_name: u
            for u in await session.scalars(
                select(StaffUser).where(StaffUser.firm_id == demo.firm_id)
            )
        }
        extra = StaffUser(
            firm_id=demo.firm_id,
            entra_object_id="a0000000-0000-4000-8000-0000000000ff",
            email="paul.other@durand-associes.fr",
            display_name="Paul Autre",
        )
        session.add(extra)
        dossier = Dossier(
            firm_id=demo.firm_id,
            code="ZZT001",
            name="Test Portefeuille SARL",
            master_id=staff["Sophie Martin"].id,
            engagement_manager_id=staff["James Walker"].id,
        )
        session.add(dossier)
        contacts = [
            Contact(
                firm_id=demo.firm_id,
                first_name="Gaëlle",
                last_name="Invitée",
                email="gaelle@zzt.fr",
                guest_state="guest",
                entra_object_id="c0000000-0000-4000-8000-0000000000aa",
            ),
            Contact(
                firm_id=demo.firm_id,
                first_name="Ivan",
                last_name="Enattente",
                email="ivan@zzt.fr",
                guest_state="invited",
            ),
            Contact(firm_id=demo.firm_id, first_name="Nina", last_name="Neuve", email="n@zzt.fr"),
        ]
        session.add_all(contacts)
        await session.flush()
        for contact in contacts:
            session.add(
                ContactDossier(firm_id=demo.firm_id, contact_id=contact.id, dossier_id=dossier.id)
            )
        ids = [c.id for c in contacts]
    return Scene(
        code="ZZT001",
        apps=apps,
        guest=ids[0],
        invited=ids[1],
        uninvited=ids[2],
        claire=await actor_named(sessions, demo.firm_id, "Claire Durand"),
        marc=await actor_named(sessions, demo.firm_id, "Marc Lefèvre"),
        sophie=await actor_named(sessions, demo.firm_id, "Sophie Martin"),
        james=await actor_named(sessions, demo.firm_id, "James Walker"),
        other=await actor_named(sessions, demo.firm_id, "Paul Autre"),
    )


@pytest.fixture
async def scene(sessions: Sessions, demo: DemoInfo) -> Scene:
    return await make_scene(sessions, demo)


async def count(sessions: Sessions, model: Any, *where: Any) -> int:
    async with sessions() as session:
        return await session.scalar(select(func.count()).select_from(model).where(*where)) or 0


async def portfolio_row(hub: Hub, actor: Actor, code: str) -> Any:
    view = await list_portfolio(hub, actor, scope="all", term=code)
    return next(row for row in view.page.items if row.code == code)


# --------------------------------------------------------------------------- who may activate


@pytest.mark.parametrize("who", ["claire", "marc", "sophie", "james"])
async def test_administrator_rights_manager_master_and_engagement_manager_may_activate(
    hub: Hub, sessions: Sessions, scene: Scene, who: str
) -> None:
    actor: Actor = getattr(scene, who)
    dialog = await applications_dialog(hub, actor, scene.code)
    assert dialog.may_activate
    result = await save_applications(hub, actor, scene.code, {scene.apps["ocr-achats"]: []})
    assert result.switched_on == ["OCR Factures — Achats"]
    assert await count(sessions, Connection, Connection.active.is_(True)) == 1


async def test_another_collaborator_sees_read_only_and_is_refused_with_the_reason(
    hub: Hub, sessions: Sessions, scene: Scene
) -> None:
    dialog = await applications_dialog(hub, scene.other, scene.code)
    assert not dialog.may_activate
    assert [a.label for a in dialog.applications] == [
        "Co-production",
        "Start",
        "OCR Factures — Achats",
    ]
    with pytest.raises(PermissionDenied) as refused:
        await save_applications(hub, scene.other, scene.code, {scene.apps["ocr-achats"]: []})
    assert refused.value.key == "rights.activate"
    assert refused.value.params == {"dossier": "ZZT001"}
    assert await count(sessions, Connection) == 0
    assert await count(sessions, AuditEvent, AuditEvent.action.like("dossier.%")) == 0


# --------------------------------------------------------------------------- switching


async def test_switching_on_and_off_keeps_the_connection_and_writes_audit_events(
    hub: Hub, sessions: Sessions, scene: Scene
) -> None:
    ocr = scene.apps["ocr-achats"]
    await save_applications(hub, scene.sophie, scene.code, {ocr: []})
    assert (await portfolio_row(hub, scene.claire, scene.code)).applications == 1
    dialog = await applications_dialog(hub, scene.sophie, scene.code)
    assert [a.label for a in dialog.applications if a.on] == ["OCR Factures — Achats"]

    result = await save_applications(hub, scene.sophie, scene.code, {})
    assert result.switched_off == ["OCR Factures — Achats"]
    # Switched off, not deleted: the send history hanging off the connection stays.
    assert await count(sessions, Connection) == 1
    assert await count(sessions, Connection, Connection.active.is_(True)) == 0
    assert (await portfolio_row(hub, scene.claire, scene.code)).applications == 0

    again = await save_applications(hub, scene.sophie, scene.code, {ocr: []})
    assert again.switched_on == ["OCR Factures — Achats"]
    assert await count(sessions, Connection) == 1
    async with sessions() as session:
        actions = list(
            await session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.action.like("dossier.application%"))
                .order_by(AuditEvent.id)
            )
        )
        event = await session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()))
    assert actions == [
        "dossier.application_on",
        "dossier.application_off",
        "dossier.application_on",
    ]
    assert event is not None
    assert event.actor == scene.sophie.ref
    assert event.details == {"application": "OCR Factures — Achats", "dossier": "ZZT001"}


async def test_saving_the_same_choice_changes_nothing_once_the_offer_is_delivered(
    hub: Hub, sessions: Sessions, scene: Scene
) -> None:
    choice = {scene.apps["start"]: [scene.guest]}
    (offer,) = (await save_applications(hub, scene.claire, scene.code, choice)).offered
    # Not delivered yet (no courier here): saving again hands the same offer over again.
    (again,) = (await save_applications(hub, scene.claire, scene.code, choice)).offered
    assert again.access_id == offer.access_id
    assert await count(sessions, AuditEvent, AuditEvent.action == "offer.sent") == 1
    await remember_offer_message(hub, scene.claire, offer.access_id, "activity-1")
    assert not (await save_applications(hub, scene.claire, scene.code, choice)).changed


async def test_ticking_a_contact_offers_the_application_and_unticking_withdraws_it(
    hub: Hub, sessions: Sessions, scene: Scene
) -> None:
    start = scene.apps["start"]
    result = await save_applications(hub, scene.james, scene.code, {start: [scene.guest]})
    # An offer, as from Teams: the application is switched on when the contact accepts.
    assert result.switched_on == []
    assert [(o.application, o.contact_name, o.proposed_by) for o in result.offered] == [
        ("Start", "Gaëlle Invitée", "James Walker")
    ]
    async with sessions() as session:
        access = await session.scalar(select(ContactAccess))
    assert access is not None
    assert (access.state, access.contact_id, access.offered_by_id) == (
        "offered",
        scene.guest,
        scene.james.id,
    )
    assert await count(sessions, Connection, Connection.active.is_(True)) == 0
    dialog = await applications_dialog(hub, scene.james, scene.code)
    start_choice = next(a for a in dialog.applications if a.id == start)
    assert start_choice.on  # the offer is out: shown on, so unticking withdraws it
    assert [(c.name, c.chosen, c.access) for c in start_choice.contacts] == [
        ("Ivan Enattente", False, ""),
        ("Gaëlle Invitée", True, "offered"),
        ("Nina Neuve", False, ""),
    ]

    # Unticking the contact withdraws the offer.
    result = await save_applications(hub, scene.james, scene.code, {start: []})
    assert result.revoked == ["Start · Gaëlle Invitée"] and not result.offered
    assert await count(sessions, ContactAccess, ContactAccess.state == "revoked") == 1

    # Ticked again: offered again; then the whole application switched off: withdrawn with it.
    again = await save_applications(hub, scene.james, scene.code, {start: [scene.guest]})
    assert [o.access_id for o in again.offered] == [access.id]
    assert await count(sessions, ContactAccess, ContactAccess.state == "offered") == 1
    result = await save_applications(hub, scene.james, scene.code, {})
    assert result.revoked == ["Start · Gaëlle Invitée"]
    assert await count(sessions, ContactAccess, ContactAccess.state == "offered") == 0
    assert await count(sessions, ContactAccess) == 1  # one row, its history in the audit trail
    assert await count(sessions, AuditEvent, AuditEvent.action == "offer.sent") == 2
    assert await count(sessions, AuditEvent, AuditEvent.action == "contact_access.revoked") == 2


async def test_an_application_for_a_contact_switched_on_with_nobody_ticked_is_refused(
    hub: Hub, sessions: Sessions, scene: Scene
) -> None:
    with pytest.raises(InvalidInput) as refused:
        await save_applications(hub, scene.claire, scene.code, {scene.apps["start"]: []})
    assert refused.value.key == "portfolio.contact_needed"
    assert refused.value.field == f"contacts-{scene.apps['start']}"
    assert await count(sessions, Connection) == 0


async def test_greyed_contacts_are_shown_with_their_reason_and_refused(
    hub: Hub, sessions: Sessions, scene: Scene
) -> None:
    dialog = await applications_dialog(hub, scene.claire, scene.code)
    start = next(a for a in dialog.applications if a.label == "Start")
    reasons = {c.name: (c.eligible, c.reason) for c in start.contacts}
    assert reasons == {
        "Gaëlle Invitée": (True, ""),
        "Ivan Enattente": (False, "portfolio.reason.invited"),
        "Nina Neuve": (False, "portfolio.reason.none"),
    }
    for contact in (scene.invited, scene.uninvited):
        with pytest.raises(InvalidInput) as refused:
            await save_applications(
                hub, scene.claire, scene.code, {scene.apps["start"]: [scene.guest, contact]}
            )
        assert refused.value.key == "portfolio.contact_not_ready"
        assert refused.value.field == f"contacts-{scene.apps['start']}"
    # Refused as a whole: not even the valid part was applied.
    assert await count(sessions, Connection) == 0
    assert await count(sessions, ContactAccess) == 0


async def test_contacts_are_refused_for_an_application_that_needs_none(
    hub: Hub, scene: Scene
) -> None:
    with pytest.raises(InvalidInput) as refused:
        await save_applications(
            hub, scene.claire, scene.code, {scene.apps["ocr-achats"]: [scene.guest]}
        )
    assert refused.value.key == "portfolio.no_contact_needed"


async def test_a_contact_preselected_from_its_page_is_ticked_under_applications_not_on(
    hub: Hub, scene: Scene
) -> None:
    await save_applications(
        hub, scene.claire, scene.code, {scene.apps["coproduction"]: [scene.guest]}
    )
    dialog = await applications_dialog(hub, scene.claire, scene.code, contact_id=scene.guest)
    assert dialog.preselected is not None and dialog.preselected.name == "Gaëlle Invitée"
    chosen = {a.label: [c.name for c in a.contacts if c.chosen] for a in dialog.applications}
    on = {a.label: a.on for a in dialog.applications}
    # Start is off: ticked in advance, its switch left for the person to turn on. Co-production
    # is already offered to her: left as it is.
    assert chosen == {
        "Co-production": ["Gaëlle Invitée"],
        "Start": ["Gaëlle Invitée"],
        "OCR Factures — Achats": [],
    }
    assert on == {"Co-production": True, "Start": False, "OCR Factures — Achats": False}
    # A greyed contact is never ticked in advance.
    dialog = await applications_dialog(hub, scene.claire, scene.code, contact_id=scene.invited)
    assert not any(
        c.chosen for a in dialog.applications for c in a.contacts if c.id == scene.invited
    )
    assert dialog.preselected is not None and not dialog.preselected.eligible


async def test_a_contact_not_on_the_dossier_cannot_be_preselected_or_chosen(
    hub: Hub, sessions: Sessions, demo: DemoInfo, scene: Scene
) -> None:
    async with sessions() as session:
        elsewhere = await session.scalar(
            select(Contact.id).where(
                Contact.firm_id == demo.firm_id, Contact.guest_state == "guest"
            )
        )
    assert elsewhere is not None
    with pytest.raises(NotFound):
        await applications_dialog(hub, scene.claire, scene.code, contact_id=elsewhere)
    with pytest.raises(NotFound):
        await save_applications(hub, scene.claire, scene.code, {scene.apps["start"]: [elsewhere]})


# --------------------------------------------------------------------------- the portfolio


async def test_portfolio_shows_ones_own_dossiers_and_all_for_administrators(
    hub: Hub, sessions: Sessions, scene: Scene
) -> None:
    mine = await list_portfolio(hub, scene.sophie, scope="all")
    assert mine.scope == "mine" and not mine.can_see_all  # a collaborator cannot widen it
    async with sessions() as session:
        expected = await session.scalar(
            select(func.count())
            .select_from(Dossier)
            .where(
                (Dossier.master_id == scene.sophie.id)
                | (Dossier.engagement_manager_id == scene.sophie.id)
            )
        )
    assert mine.page.total == expected
    assert len(mine.page.items) == min(50, mine.page.total)
    assert all(row.may_activate for row in mine.page.items)

    for boss in (scene.claire, scene.marc):
        everything = await list_portfolio(hub, boss, scope="all")
        assert everything.scope == "all" and everything.can_see_all
        assert everything.page.total == 201  # the demo's 200 and the scene's
    nothing = await list_portfolio(hub, scene.other)
    assert nothing.page.total == 0 and nothing.page.items == []


async def test_search_and_pages(hub: Hub, scene: Scene) -> None:
    found = await list_portfolio(hub, scene.claire, scope="all", term="portefeuille")
    assert [row.code for row in found.page.items] == ["ZZT001"]
    assert (await list_portfolio(hub, scene.claire, scope="all", term="zzt0")).page.total == 1
    # Wildcards are searched for literally.
    assert (await list_portfolio(hub, scene.claire, scope="all", term="%%%")).page.total == 0
    page5 = await list_portfolio(hub, scene.claire, scope="all", page=5)
    assert page5.page.number == 5 and page5.page.pages == 5
    assert [row.code for row in page5.page.items] == ["ZZT001"]
    beyond = await list_portfolio(hub, scene.claire, scope="all", page=99)
    assert beyond.page.number == 5


async def test_teams_status_follows_the_contacts_guest_state(
    hub: Hub, sessions: Sessions, scene: Scene
) -> None:
    async with sessions() as session, session.begin():
        guest = await session.get(Contact, scene.guest)
        assert guest is not None
        guest.guest_state = "invited"
    assert (await portfolio_row(hub, scene.claire, scene.code)).teams_status == "to_prepare"
    async with sessions() as session, session.begin():
        invited = await session.get(Contact, scene.invited)
        assert invited is not None
        invited.guest_state = "guest"  # accepted, but the object id is not known yet
    assert (await portfolio_row(hub, scene.claire, scene.code)).teams_status == "to_prepare"
    async with sessions() as session, session.begin():
        invited = await session.get(Contact, scene.invited)
        assert invited is not None
        invited.entra_object_id = "c0000000-0000-4000-8000-0000000000bb"
    row = await portfolio_row(hub, scene.claire, scene.code)
    assert row.teams_status == "operational"
    assert row.contacts == 3


async def test_counts_only_active_connections_of_each_dossier(
    hub: Hub, sessions: Sessions, demo: DemoInfo, scene: Scene
) -> None:
    await save_applications(
        hub,
        scene.claire,
        scene.code,
        {scene.apps["ocr-achats"]: [], scene.apps["start"]: [scene.guest]},
    )
    await save_applications(hub, scene.claire, "BLA011", {scene.apps["ocr-achats"]: []})
    await save_applications(hub, scene.claire, "BLA011", {})
    view = await list_portfolio(hub, scene.claire, scope="all", term="BLA0")
    counts = {row.code: row.applications for row in view.page.items}
    assert counts["BLA011"] == 0
    # Start is only offered to Gaëlle: it counts once she accepts.
    assert (await portfolio_row(hub, scene.claire, scene.code)).applications == 1


# --------------------------------------------------------------------------- firm isolation


async def test_another_firms_dossier_is_not_found_even_for_an_administrator(
    hub: Hub, sessions: Sessions, scene: Scene
) -> None:
    async with sessions() as session, session.begin():
        other = Firm(name="Autre Cabinet", tenant_id="00000000-0000-4000-8000-00000000b0b0")
        session.add(other)
        await session.flush()
        session.add(Dossier(firm_id=other.id, code="BOB001", name="Dossier de B"))
        other_id = other.id
    other_apps = await add_firm_applications(sessions, other_id, ("start",))
    for call in (
        applications_dialog(hub, scene.claire, "BOB001"),
        save_applications(hub, scene.claire, "BOB001", {}),
    ):
        with pytest.raises(NotFound):
            await call
    # Firm B's application id on firm A's dossier: not found either.
    with pytest.raises(NotFound):
        await save_applications(hub, scene.claire, scene.code, {other_apps["start"]: []})
    everything = await list_portfolio(hub, scene.claire, scope="all", term="BOB001")
    assert everything.page.total == 0
    assert await count(sessions, Connection) == 0
