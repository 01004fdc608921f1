"""Portfolio, Dossiers and Contacts in the panel, as a person reads them (aiohttp test client)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import func, select

from relais.demo import DemoInfo
from storage.db import Sessions
from storage.models import Connection, Contact, ContactAccess, ContactDossier, Dossier, Firm
from tests.admin.conftest import CLAIRE, JAMES, Client, csrf_of, visible
from tests.hub.test_portfolio import Scene, add_firm_applications, make_scene

SOPHIE = "a0000000-0000-4000-8000-000000000003"
PAUL = "a0000000-0000-4000-8000-0000000000ff"  # the scene's collaborator with no dossier


@pytest.fixture
async def scene(sessions: Sessions, demo: DemoInfo) -> Scene:
    return await make_scene(sessions, demo)


async def _text(client: Client, path: str, status: int = 200) -> str:
    response = await client.get(path)
    assert response.status == status, (path, response.status)
    return await response.text()


async def _active(sessions: Sessions) -> int:
    async with sessions() as session:
        return (
            await session.scalar(
                select(func.count()).select_from(Connection).where(Connection.active.is_(True))
            )
            or 0
        )


def _row(page: str, code: str) -> str:
    match = re.search(rf'<tr data-code="{code}">(.*?)</tr>', page, flags=re.S)
    assert match, f"no row for {code}"
    return visible(match.group(1))


async def test_portfolio_lists_the_dossiers_with_translated_states(
    client: Client, signed_in: Any, scene: Scene
) -> None:
    await signed_in(CLAIRE)
    page = await _text(client, "/admin/portfolio?scope=all&q=zzt")
    text = visible(page)
    assert "Portefeuille" in text and "Tous les dossiers du cabinet" in text
    assert "1 dossier pour « zzt »" in text
    assert _row(page, "ZZT001") == (
        "ZZT001 Test Portefeuille SARL Actif Opérationnel Aucune Applications"
    )
    assert 'href="/admin/dossiers/ZZT001/applications?next=' in page

    whole = visible(await _text(client, "/admin/portfolio?scope=all"))
    assert "201 dossiers" in whole and "Page 1 sur 5" in whole
    page3 = await _text(client, "/admin/portfolio?scope=all&page=3")
    assert "Page 3 sur 5" in visible(page3)
    assert 'href="/admin/portfolio?scope=all&amp;q=&amp;page=4"' in page3


async def test_a_short_search_says_so(client: Client, signed_in: Any, scene: Scene) -> None:
    await signed_in(CLAIRE)
    text = visible(await _text(client, "/admin/portfolio?q=zz"))
    assert "Saisissez au moins 3 caractères pour lancer la recherche." in text
    for path in ("/admin/dossiers?q=ab", "/admin/contacts?q=x"):
        assert "Saisissez au moins 3 caractères" in visible(await _text(client, path))


async def test_a_collaborators_portfolio_is_their_own_without_the_switch(
    client: Client, signed_in: Any, scene: Scene
) -> None:
    await signed_in(SOPHIE)
    page = await _text(client, "/admin/portfolio?scope=all&q=zzt")
    text = visible(page)
    assert "Tous les dossiers du cabinet" not in text
    assert "Les dossiers dont vous êtes maître ou responsable de mission" in text
    assert 'data-code="ZZT001"' in page
    await signed_in(PAUL)
    text = visible(await _text(client, "/admin/portfolio"))
    assert "Vous n'êtes ni maître ni responsable de mission d'aucun dossier pour l'instant." in text


async def test_the_dialog_switches_an_application_on_and_proposes_one_to_a_contact(
    client: Client, signed_in: Any, sessions: Sessions, scene: Scene
) -> None:
    await signed_in(CLAIRE)
    back = "/admin/portfolio?scope=all&q=zzt"
    page = await _text(client, f"/admin/dossiers/ZZT001/applications?next={back}")
    text = visible(page)
    assert "Applications du dossier ZZT001 Test Portefeuille SARL" in text
    assert "Offres pour un interlocuteur" in text and "Applications du dossier" in text
    assert "Ivan Enattente ivan@zzt.fr invitation pas encore acceptée" in text
    assert "Nina Neuve n@zzt.fr pas encore d'invitation dans l'espace Microsoft du cabinet" in text
    start = scene.apps["start"]
    # The greyed contacts cannot be ticked; the guest can.
    assert re.search(rf'name="contacts-{start}" value="{scene.invited}"[^>]*disabled', page)
    assert not re.search(rf'name="contacts-{start}" value="{scene.guest}"[^>]*disabled', page)

    response = await client.post(
        "/admin/dossiers/ZZT001/applications",
        data={
            "csrf_token": csrf_of(page),
            "next": back,
            "app": [str(start), str(scene.apps["ocr-achats"])],
            f"contacts-{start}": str(scene.guest),
        },
    )
    assert response.status == 200 and response.url.path_qs == back
    landed = await response.text()
    text = visible(landed)
    # An offer left pending is said in a warning, not in a green success banner.
    assert '<p class="flash flash-warning" role="status">Les applications du dossier' in landed
    assert "flash-ok" not in landed
    # Nobody of the firm has talked to the bot yet: Relais has no way into the firm's Teams.
    assert (
        "Les applications du dossier ZZT001 sont enregistrées. Offres restées en attente, "
        "visibles dans les applications du dossier : Start à Gaëlle Invitée (Relais ne peut pas "
        "encore joindre vos clients dans Teams : ouvrez Relais une fois dans Teams pour qu'il "
        "puisse les joindre, puis proposez à nouveau)."
    ) in text
    # The OCR is on; Start once Gaëlle accepts.
    assert _row(await response.text(), "ZZT001").endswith("1 application Applications")
    async with sessions() as session:
        access = await session.scalar(select(ContactAccess))
    assert access is not None and (access.contact_id, access.state) == (scene.guest, "offered")
    page = await _text(client, "/admin/dossiers/ZZT001/applications")
    assert re.search(rf'id="app-{start}" name="app" value="{start}"\s+checked', page)
    assert (
        "Gaëlle Invitée gaelle@zzt.fr offre en attente, pas encore reçue dans Teams : Relais ne "
        "peut pas encore joindre vos clients dans Teams"
    ) in visible(page)


async def test_a_greyed_contact_forced_through_the_form_is_refused_with_a_message(
    client: Client, signed_in: Any, sessions: Sessions, scene: Scene
) -> None:
    await signed_in(CLAIRE)
    page = await _text(client, "/admin/dossiers/ZZT001/applications")
    start = scene.apps["start"]
    response = await client.post(
        "/admin/dossiers/ZZT001/applications",
        data={
            "csrf_token": csrf_of(page),
            "app": str(start),
            f"contacts-{start}": str(scene.invited),
        },
    )
    assert response.status == 400
    text = visible(await response.text())
    assert (
        "Ivan Enattente ne peut pas encore recevoir d'application : invitation pas encore "
        "acceptée. Rien n'a été enregistré." in text
    )
    assert await _active(sessions) == 0


async def test_a_collaborator_sees_the_dialog_read_only_and_a_forged_post_is_refused(
    client: Client, signed_in: Any, sessions: Sessions, scene: Scene
) -> None:
    await signed_in(PAUL)
    page = await _text(client, "/admin/dossiers/ZZT001/applications")
    text = visible(page)
    assert "Consultation seule" in text
    assert "Seuls les administrateurs, les membres du groupe des gestionnaires des droits" in text
    assert "Valider" not in text
    switches = re.findall(r'<input class="switch"[^>]*>', page)
    assert len(switches) == 3 and all("disabled" in s for s in switches)
    response = await client.post(
        "/admin/dossiers/ZZT001/applications",
        data={"csrf_token": csrf_of(page), "app": str(scene.apps["ocr-achats"])},
    )
    assert response.status == 403
    text = visible(await response.text())
    assert "Accès refusé" in text
    assert "Vous ne pouvez pas activer ou désactiver d'applications sur le dossier ZZT001" in text
    assert await _active(sessions) == 0


async def test_the_dialog_fragment_for_the_modal_has_no_layout(
    client: Client, signed_in: Any, scene: Scene
) -> None:
    await signed_in(CLAIRE)
    fragment = await _text(client, "/admin/dossiers/ZZT001/applications?partial=1")
    assert fragment.lstrip().startswith("<form") and "<html" not in fragment
    assert "Valider" in visible(fragment)


async def test_the_dialog_in_english(client: Client, signed_in: Any, scene: Scene) -> None:
    await signed_in(JAMES)
    text = visible(await _text(client, "/admin/dossiers/ZZT001/applications"))
    assert "Applications of dossier ZZT001" in text
    assert "Offers for a contact" in text and "Dossier applications" in text
    assert "Ivan Enattente ivan@zzt.fr invitation not accepted yet" in text
    assert "Save" in text
    text = visible(await _text(client, "/admin/portfolio?q=zzt"))
    assert "ZZT001 Test Portefeuille SARL Active Operational None Applications" in text


async def test_dossiers_list_offers_propose_a_service(
    client: Client, signed_in: Any, scene: Scene
) -> None:
    await signed_in(CLAIRE)
    page = await _text(client, "/admin/dossiers?q=zzt")
    assert _row(page, "ZZT001") == (
        "ZZT001 Test Portefeuille SARL Actif Sophie Martin 3 Aucune Proposer un service"
    )
    assert "201 dossiers" in visible(await _text(client, "/admin/dossiers"))


async def test_contacts_list_and_a_contacts_dossiers_tab(
    client: Client, signed_in: Any, sessions: Sessions, scene: Scene
) -> None:
    await signed_in(CLAIRE)
    text = visible(await _text(client, "/admin/contacts?q=zzt.fr"))
    assert "3 interlocuteurs pour « zzt.fr »" in text
    assert "Gaëlle Invitée gaelle@zzt.fr — Invitation acceptée 1" in text
    assert "Ivan Enattente ivan@zzt.fr — Invitation envoyée 1" in text
    assert "Nina Neuve n@zzt.fr — Pas d'invitation 1" in text

    general = visible(await _text(client, f"/admin/contacts/{scene.invited}"))
    assert "Ivan Enattente" in general and "Général" in general and "Dossiers client" in general
    assert (
        "Ivan Enattente : accès à l'espace Microsoft du cabinet pas encore ouvert (invitation pas "
        "encore acceptée)" in general
    )

    tab = await _text(client, f"/admin/contacts/{scene.guest}/dossiers?q=bla01")
    assert _row(tab, "ZZT001") == (
        "ZZT001 Test Portefeuille SARL Actif Aucune Proposer un service Détacher"
    )
    assert f"/admin/dossiers/ZZT001/applications?next=%2Fadmin%2Fcontacts%2F{scene.guest}" in tab
    assert f"contact={scene.guest}" in tab
    assert "BLA011" in visible(tab)

    linked = await client.post(
        f"/admin/contacts/{scene.guest}/dossiers",
        data={"csrf_token": csrf_of(tab), "code": "BLA011"},
    )
    assert linked.status == 200
    page = await linked.text()
    assert "Le dossier BLA011 est rattaché à l'interlocuteur." in visible(page)
    assert 'data-code="BLA011"' in page

    # "Propose a service" from the contact: the dialog with the contact ticked in advance.
    dialog = await _text(client, f"/admin/dossiers/ZZT001/applications?contact={scene.guest}")
    assert "Proposer un service à Gaëlle Invitée" in visible(dialog)
    start = scene.apps["start"]
    assert re.search(rf'name="contacts-{start}" value="{scene.guest}"\s+checked', dialog), (
        "the contact should be ticked under Start"
    )

    unlinked = await client.post(
        f"/admin/contacts/{scene.guest}/dossiers/BLA011/unlink",
        data={"csrf_token": csrf_of(page)},
    )
    assert "Le dossier BLA011 est détaché ; 0 accès retiré(s)." in visible(await unlinked.text())
    async with sessions() as session:
        links = await session.scalar(
            select(func.count())
            .select_from(ContactDossier)
            .where(ContactDossier.contact_id == scene.guest)
        )
    assert links == 1


async def test_another_firms_dossier_and_contact_are_not_found_on_every_route(
    client: Client, signed_in: Any, sessions: Sessions, scene: Scene
) -> None:
    async with sessions() as session, session.begin():
        other = Firm(name="Autre Cabinet", tenant_id="00000000-0000-4000-8000-00000000b0b0")
        session.add(other)
        await session.flush()
        session.add(Dossier(firm_id=other.id, code="BOB001", name="Dossier de B"))
        bob = Contact(firm_id=other.id, first_name="Bob", last_name="Autre", email="bob@b.fr")
        session.add(bob)
        await session.flush()
        bob_id, other_id = bob.id, other.id
    other_apps = await add_firm_applications(sessions, other_id, ("start",))
    page = await signed_in(CLAIRE)
    token = csrf_of(page)
    gets = [
        "/admin/dossiers/BOB001/applications",
        "/admin/dossiers/BOB001/applications?partial=1",
        f"/admin/dossiers/ZZT001/applications?contact={bob_id}",
        f"/admin/contacts/{bob_id}",
        f"/admin/contacts/{bob_id}/dossiers",
        f"/admin/contacts/{bob_id}/dossiers?q=bob001",
    ]
    posts: list[tuple[str, dict[str, Any]]] = [
        ("/admin/dossiers/BOB001/applications", {}),
        ("/admin/dossiers/ZZT001/applications", {"app": str(other_apps["start"])}),
        (f"/admin/contacts/{bob_id}/dossiers", {"code": "ZZT001"}),
        (f"/admin/contacts/{scene.guest}/dossiers", {"code": "BOB001"}),
        (f"/admin/contacts/{bob_id}/dossiers/ZZT001/unlink", {}),
        (f"/admin/contacts/{scene.guest}/dossiers/BOB001/unlink", {}),
    ]
    for path in gets:
        response = await client.get(path)
        assert response.status == 404, path
        text = visible(await response.text())
        assert "Page introuvable" in text and "BOB" not in text.replace(path, ""), path
    for path, data in posts:
        response = await client.post(path, data={"csrf_token": token, **data})
        assert response.status == 404, path
    assert "Bob Autre" not in visible(await _text(client, "/admin/contacts?q=bob"))
    assert "BOB001" not in visible(await _text(client, "/admin/dossiers?q=bob001"))
    assert await _active(sessions) == 0
    async with sessions() as session:
        assert (
            await session.scalar(
                select(func.count())
                .select_from(ContactDossier)
                .where(ContactDossier.contact_id == bob_id)
            )
            == 0
        )


async def test_the_audit_page_tells_what_the_dialog_changed_in_plain_words(
    client: Client, signed_in: Any, scene: Scene
) -> None:
    await signed_in(CLAIRE)
    page = await _text(client, "/admin/dossiers/ZZT001/applications")
    start = scene.apps["start"]
    await client.post(
        "/admin/dossiers/ZZT001/applications",
        data={
            "csrf_token": csrf_of(page),
            "app": [str(start)],
            f"contacts-{start}": str(scene.guest),
        },
    )
    text = visible(await _text(client, "/admin/audit"))
    assert "A proposé Start à gaelle@zzt.fr sur le dossier ZZT001" in text
