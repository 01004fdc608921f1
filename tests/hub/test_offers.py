"""Proposing services and answering offers (seed 003 §5), use-case by use-case, on both databases."""

from __future__ import annotations

from urllib.parse import unquote_plus

import pytest
from sqlalchemy import func, select

from hub.contacts import create_contact
from hub.errors import Conflict, ConsentMissing, InvalidInput, NotFound, PermissionDenied
from hub.identity import Actor, resolve
from hub.offers import (
    actionable_dossiers,
    answer_offer,
    dossier_contacts,
    install_for_contact,
    offer_unreachable,
    proposable,
    propose,
    remember_offer_message,
)
from hub.services import Hub
from relais.demo import DEMO_TENANT_ID, DemoInfo
from storage.db import Sessions
from storage.models import AuditEvent, Connection, Contact, ContactAccess, ContactDossier
from tests.fakes.entra import CATALOG_ROLE, DEFAULT_GRAPH_ROLES, INSTALL_ROLE, FakeEntra
from tests.hub.graph_arrange import entra_settings, ghub, set_consent, sleeps
from tests.hub.test_portfolio import Scene, make_scene

__all__ = ["entra_settings", "ghub", "sleeps"]

GAELLE = "c0000000-0000-4000-8000-0000000000aa"


@pytest.fixture
async def scene(sessions: Sessions, demo: DemoInfo) -> Scene:
    return await make_scene(sessions, demo)


async def gaelle(sessions: Sessions) -> Actor:
    return await resolve(sessions, DEMO_TENANT_ID, GAELLE)


async def actions(sessions: Sessions, prefix: str) -> list[str]:
    async with sessions() as session:
        return list(
            await session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.action.like(f"{prefix}%"))
                .order_by(AuditEvent.id)
            )
        )


async def test_proposable_depends_on_the_contact(hub: Hub, scene: Scene) -> None:
    with_contact = await proposable(hub, scene.sophie, scene.code, scene.guest, "en")
    assert [p.label for p in with_contact] == ["Co-production", "Start"]
    assert with_contact[1].description.startswith("Entry collaborative offer")
    without = await proposable(hub, scene.sophie, scene.code, None)
    assert [p.label for p in without] == ["OCR Factures — Achats"]
    with pytest.raises(PermissionDenied) as refused:
        await proposable(hub, scene.other, scene.code, None)
    assert refused.value.key == "rights.activate"


async def test_offers_are_recorded_once_and_answered_once(
    hub: Hub, scene: Scene, sessions: Sessions
) -> None:
    start, copro = scene.apps["start"], scene.apps["coproduction"]
    proposal = await propose(hub, scene.james, scene.code, scene.guest, [start, copro])
    assert [o.application for o in proposal.offers] == ["Start", "Co-production"]
    offer = proposal.offers[0]
    assert (offer.contact_object_id, offer.proposed_by) == (GAELLE, "James Walker")
    assert (await propose(hub, scene.james, scene.code, scene.guest, [start])).already == ("Start",)
    await remember_offer_message(hub, scene.james, offer.access_id, "activity-1")
    assert await actions(sessions, "offer.") == ["offer.sent", "offer.sent"]

    contact = await gaelle(sessions)
    answer = await answer_offer(hub, contact, offer.access_id, True)
    assert (answer.accepted, answer.proposer, answer.activity_id) == (
        True,
        scene.james.ref,
        "activity-1",
    )
    async with sessions() as session:
        connection = await session.scalar(
            select(Connection).where(Connection.firm_application_id == start)
        )
    assert connection is not None and connection.active
    with pytest.raises(Conflict) as twice:
        await answer_offer(hub, contact, offer.access_id, False)
    assert twice.value.key == "offers.already_accepted"
    with pytest.raises(PermissionDenied):
        await answer_offer(hub, scene.james, proposal.offers[1].access_id, True)
    declined = await answer_offer(hub, contact, proposal.offers[1].access_id, False)
    assert not declined.accepted
    assert await actions(sessions, "offer.") == [
        "offer.sent",
        "offer.sent",
        "offer.accepted",
        "offer.declined",
    ]


async def test_what_cannot_be_proposed(hub: Hub, scene: Scene, sessions: Sessions) -> None:
    start, ocr = scene.apps["start"], scene.apps["ocr-achats"]
    with pytest.raises(InvalidInput) as none:
        await propose(hub, scene.sophie, scene.code, scene.guest, [])
    assert none.value.key == "offers.none_chosen"
    with pytest.raises(InvalidInput) as kind:
        await propose(hub, scene.sophie, scene.code, scene.guest, [ocr])
    assert kind.value.key == "offers.no_contact"
    with pytest.raises(InvalidInput) as needs:
        await propose(hub, scene.sophie, scene.code, None, [start])
    assert needs.value.key == "offers.needs_contact"
    with pytest.raises(Conflict) as not_guest:
        await propose(hub, scene.sophie, scene.code, scene.invited, [start])
    assert not_guest.value.key == "offers.not_guest"
    with pytest.raises(PermissionDenied):
        await propose(hub, scene.other, scene.code, scene.guest, [start])
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ContactAccess)) == 0


async def test_an_unreachable_contact_is_audited_and_the_offer_stays(
    hub: Hub, scene: Scene, sessions: Sessions
) -> None:
    (offer,) = (
        await propose(hub, scene.sophie, scene.code, scene.guest, [scene.apps["start"]])
    ).offers
    await offer_unreachable(hub, scene.sophie, offer.access_id, "403 Forbidden")
    async with sessions() as session:
        access = await session.get(ContactAccess, offer.access_id)
        event = await session.scalar(
            select(AuditEvent).where(AuditEvent.action == "offer.unreachable")
        )
    assert access is not None and access.state == "offered"
    assert event is not None and event.details["reason"] == "403 Forbidden"


async def test_other_firms_offers_are_not_found(hub: Hub, scene: Scene, sessions: Sessions) -> None:
    (offer,) = (
        await propose(hub, scene.sophie, scene.code, scene.guest, [scene.apps["start"]])
    ).offers
    stranger = Actor(
        firm_id=999, firm_name="Other", kind="contact", id=1, display_name="X", locale="fr"
    )
    with pytest.raises(NotFound):
        await answer_offer(hub, stranger, offer.access_id, True)


async def test_actionable_dossiers_follow_the_rights(hub: Hub, scene: Scene) -> None:
    assert [d.code for d in await actionable_dossiers(hub, scene.sophie, "zzt")] == ["ZZT001"]
    assert await actionable_dossiers(hub, scene.other, "zzt") == ()
    assert [d.code for d in await actionable_dossiers(hub, scene.marc, "ZZT0")] == ["ZZT001"]
    assert len(await actionable_dossiers(hub, scene.claire, limit=10)) == 10
    contacts = await dossier_contacts(hub, scene.james, scene.code)
    assert [c.name for c in contacts.eligible] == ["Gaëlle Invitée"]
    with pytest.raises(PermissionDenied):
        await dossier_contacts(hub, scene.other, scene.code)


async def test_create_contact_finds_or_creates_and_links(
    hub: Hub, scene: Scene, sessions: Sessions
) -> None:
    made = await create_contact(hub, scene.sophie, " Léa ", "Petit", "Lea.Petit@ZZT.fr", "ZZT001")
    assert (made.name, made.email, made.created, made.linked) == (
        "Léa Petit",
        "lea.petit@zzt.fr",
        True,
        True,
    )
    again = await create_contact(hub, scene.sophie, "Léa", "Petit", "lea.petit@zzt.fr", "ZZT001")
    assert (again.id, again.created, again.linked) == (made.id, False, False)
    assert await actions(sessions, "contact.") == ["contact.created", "contact.dossier_linked"]
    with pytest.raises(InvalidInput) as bad:
        await create_contact(hub, scene.sophie, "Léa", "Petit", "lea@@zzt", "ZZT001")
    assert (bad.value.field, bad.value.key) == ("email", "invitations.bad_email")
    with pytest.raises(InvalidInput) as unnamed:
        await create_contact(hub, scene.sophie, "", "Petit", "x@zzt.fr", "ZZT001")
    assert unnamed.value.field == "first_name"
    with pytest.raises(PermissionDenied):
        await create_contact(hub, scene.other, "Max", "Autre", "max@zzt.fr", "ZZT001")
    async with sessions() as session:
        assert (
            await session.scalar(
                select(func.count()).select_from(Contact).where(Contact.email == "max@zzt.fr")
            )
            == 0
        )
        links = await session.scalar(
            select(func.count())
            .select_from(ContactDossier)
            .where(ContactDossier.contact_id == made.id)
        )
    assert links == 1


async def _gaelle_in_teams(
    sessions: Sessions, fake_entra: FakeEntra, demo: DemoInfo, *roles: str
) -> None:
    """The firm consented to installing apps for its users (and ``roles``), and Gaëlle is a
    guest of its tenant."""
    await set_consent(
        sessions,
        fake_entra,
        demo.firm_id,
        DEMO_TENANT_ID,
        (*DEFAULT_GRAPH_ROLES, INSTALL_ROLE, *roles),
    )
    fake_entra.add_user(
        DEMO_TENANT_ID, GAELLE, "Gaëlle Invitée", "gaelle@zzt.fr", user_type="Guest"
    )


async def test_installing_the_bot_for_a_contact_through_graph(
    ghub: Hub, scene: Scene, sessions: Sessions, fake_entra: FakeEntra, demo: DemoInfo
) -> None:
    await _gaelle_in_teams(sessions, fake_entra, demo)
    app_id = "3f2a8c1e-1b2c-4d5e-8f90-0123456789ab"
    assert await install_for_contact(ghub, scene.sophie, scene.guest, app_id) is True
    assert await install_for_contact(ghub, scene.sophie, scene.guest, app_id) is False  # 409
    assert fake_entra.installed_apps == [(DEMO_TENANT_ID, GAELLE, app_id)]
    token = fake_entra.tokens.items[-1]
    assert token.scope == "https://graph.microsoft.com/.default"
    assert await actions(sessions, "contact.app_installed") == ["contact.app_installed"]
    with pytest.raises(Conflict):
        await install_for_contact(ghub, scene.sophie, scene.invited, app_id)


async def test_an_app_uploaded_to_the_firms_catalog_is_installed_by_its_catalog_id(
    ghub: Hub, scene: Scene, sessions: Sessions, fake_entra: FakeEntra, demo: DemoInfo
) -> None:
    await _gaelle_in_teams(sessions, fake_entra, demo, CATALOG_ROLE)
    manifest_id = "3f2a8c1e-1b2c-4d5e-8f90-0123456789ab"
    catalog_id = fake_entra.publish_org_app(DEMO_TENANT_ID, manifest_id)
    assert await install_for_contact(ghub, scene.sophie, scene.guest, manifest_id) is True
    assert fake_entra.installed_apps == [(DEMO_TENANT_ID, GAELLE, catalog_id)]
    install = f"/v1.0/users/{GAELLE}/teamwork/installedApps"
    calls = [(c.method, unquote_plus(c.path), c.status) for c in fake_entra.graph_calls.items]
    assert calls == [
        ("POST", install, 404),  # the org catalog does not know the manifest's id
        ("GET", f"/v1.0/appCatalogs/teamsApps?$filter=externalId eq '{manifest_id}'", 200),
        ("POST", install, 201),
    ]
    # The catalog id is remembered: the next install asks the catalog nothing.
    assert await install_for_contact(ghub, scene.sophie, scene.guest, manifest_id) is False
    assert len(fake_entra.graph_calls.items) == 4
    assert fake_entra.graph_calls.items[-1].body["teamsApp@odata.bind"].endswith(catalog_id)


async def test_without_the_catalog_permission_the_install_says_consent_is_missing(
    ghub: Hub, scene: Scene, sessions: Sessions, fake_entra: FakeEntra, demo: DemoInfo
) -> None:
    await _gaelle_in_teams(sessions, fake_entra, demo)
    fake_entra.publish_org_app(DEMO_TENANT_ID, "3f2a8c1e-1b2c-4d5e-8f90-0123456789ab")
    with pytest.raises(ConsentMissing) as refused:
        await install_for_contact(
            ghub, scene.sophie, scene.guest, "3f2a8c1e-1b2c-4d5e-8f90-0123456789ab"
        )
    assert refused.value.key == "offers.install_consent"
    assert refused.value.params["contact"] == "Gaëlle Invitée"
    assert fake_entra.installed_apps == []
