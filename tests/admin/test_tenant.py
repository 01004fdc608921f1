"""The Microsoft 365 page and a contact's invitation in the panel, through the fake Entra + Graph
(HTTPS) as a person would use them."""

from __future__ import annotations

import asyncio
import re
import ssl
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
import pytest
from sqlalchemy import select, update

from hub.settings import Settings
from relais.app import build_app
from relais.demo import DEMO_TENANT_ID, DemoInfo
from storage.db import Sessions
from storage.models import Contact, Firm, Invitation
from tests.admin.conftest import CLAIRE, JAMES, Client, csrf_of, sign_in_demo, visible
from tests.fakes.entra import CATALOG_ROLE, DEFAULT_GRAPH_ROLES, INSTALL_ROLE, FakeEntra
from tests.hub.graph_arrange import CLIENT_ID, entra_settings, set_consent
from tests.hub.test_portfolio import Scene, make_scene

FULL_ROLES = (*DEFAULT_GRAPH_ROLES, INSTALL_ROLE, CATALOG_ROLE)

__all__ = ["entra_settings"]
SOPHIE = "a0000000-0000-4000-8000-000000000003"
MARC = "a0000000-0000-4000-8000-000000000002"
PAUL = "a0000000-0000-4000-8000-0000000000ff"  # the scene's collaborator with no dossier
OTHER_TENANT = "00000000-0000-4000-8000-00000000b0b0"


@pytest.fixture
async def scene(sessions: Sessions, demo: DemoInfo) -> Scene:
    return await make_scene(sessions, demo)


@pytest.fixture
async def tclient(aiohttp_client: Any, entra_settings: Settings, scene: Scene) -> Client:
    client: Client = await aiohttp_client(build_app(entra_settings))
    return client


async def _page(client: Client, path: str, status: int = 200) -> str:
    response = await client.get(path)
    assert response.status == status, (path, response.status, visible(await response.text()))
    return await response.text()


async def _consent_state(sessions: Sessions, firm_id: int) -> str:
    async with sessions() as session:
        firm = await session.get(Firm, firm_id)
        assert firm is not None
        return firm.consent_state


async def _to_entra_and_back(client: Client, fake_entra: FakeEntra) -> tuple[str, Any]:
    """Click "Grant consent", let (fake) Entra answer; (Entra's URL, the callback's response)."""
    page = await _page(client, "/admin/tenant")
    start = await client.post(
        "/admin/tenant/consent", data={"csrf_token": csrf_of(page)}, allow_redirects=False
    )
    assert start.status == 303, visible(await start.text())
    entra_url = start.headers["Location"]
    context = ssl.create_default_context(cafile=str(fake_entra.ca_bundle))
    async with (
        aiohttp.ClientSession() as browser,
        browser.get(entra_url, allow_redirects=False, ssl=context) as answer,
    ):
        assert answer.status == 302, await answer.text()
        back = urlsplit(answer.headers["Location"])
    assert back.path == "/admin/tenant/consent/callback"
    return entra_url, await client.get(f"{back.path}?{back.query}")


# --------------------------------------------------------------------------- the tenant page


async def test_an_administrator_grants_consent_through_entra(
    tclient: Client, fake_entra: FakeEntra, sessions: Sessions, scene: Scene
) -> None:
    await sign_in_demo(tclient, CLAIRE)
    text = visible(await _page(tclient, "/admin/tenant"))
    assert "Espace Microsoft" in text and "Consentement pas encore accordé" in text
    assert DEMO_TENANT_ID in text and "User.Invite.All" in text
    assert f"{INSTALL_ROLE} installer Relais pour un invité" in text
    assert f"{CATALOG_ROLE} retrouver Relais dans le catalogue" in text

    fake_entra.answer_admin_consent(roles=FULL_ROLES)
    entra_url, back = await _to_entra_and_back(tclient, fake_entra)
    parts = urlsplit(entra_url)
    assert parts.path == f"/{DEMO_TENANT_ID}/adminconsent"
    query = parse_qs(parts.query)
    assert query["client_id"] == [CLIENT_ID]
    assert query["redirect_uri"] == ["http://127.0.0.1:3978/admin/tenant/consent/callback"]
    assert len(query["state"][0]) > 40
    assert back.status == 200 and back.url.path == "/admin/tenant"
    text = visible(await back.text())
    assert "Consentement accordé : Relais peut maintenant inviter vos interlocuteurs." in text
    assert "Vérifié le" in text
    assert await _consent_state(sessions, scene.claire.firm_id) == "granted"
    # The confirmation came from a token of the firm's Microsoft 365.
    assert any(t.claims["tid"] == DEMO_TENANT_ID for t in fake_entra.tokens.items)


async def test_a_refusal_is_shown_in_plain_words(
    tclient: Client, fake_entra: FakeEntra, sessions: Sessions, scene: Scene
) -> None:
    await sign_in_demo(tclient, CLAIRE)
    fake_entra.answer_admin_consent(
        error="access_denied",
        description="AADSTS65004: User declined to consent to access the app.",
    )
    _, back = await _to_entra_and_back(tclient, fake_entra)
    text = visible(await back.text())
    assert "Le consentement n'est pas accordé." in text
    assert "Consentement non accordé" in text
    assert "l'administrateur a refusé ou annulé la demande de consentement" in text
    assert "AADSTS65004" in text  # in the details
    assert await _consent_state(sessions, scene.claire.firm_id) == "failed"


async def test_without_the_offer_permissions_consent_is_partly_granted(
    tclient: Client, fake_entra: FakeEntra, sessions: Sessions, scene: Scene
) -> None:
    await sign_in_demo(tclient, CLAIRE)
    fake_entra.answer_admin_consent(roles=DEFAULT_GRAPH_ROLES)
    _, back = await _to_entra_and_back(tclient, fake_entra)
    text = visible(await back.text())
    assert "Consentement accordé en partie : les invitations fonctionnent" in text
    assert "Les invitations fonctionnent, mais les offres ne peuvent pas installer Relais" in text
    assert f"Autorisation(s) manquante(s) : {INSTALL_ROLE}, {CATALOG_ROLE}" in text
    assert "Accorder à nouveau" in text
    # Invitations work: the firm's consent is granted.
    assert await _consent_state(sessions, scene.claire.firm_id) == "granted"
    # The applications dialog warns before anyone proposes.
    dialog = visible(await _page(tclient, "/admin/dossiers/ZZT001/applications"))
    assert (
        "Relais ne peut pas encore s'installer pour les invités qui ne l'ont jamais ouvert dans "
        f"Teams : le consentement Microsoft du cabinet ne comprend pas {INSTALL_ROLE}, {CATALOG_ROLE}."
    ) in dialog


async def test_roles_missing_are_not_a_consent(
    tclient: Client, fake_entra: FakeEntra, sessions: Sessions, scene: Scene
) -> None:
    await sign_in_demo(tclient, CLAIRE)
    fake_entra.answer_admin_consent(roles=("User.Read.All",))
    _, back = await _to_entra_and_back(tclient, fake_entra)
    assert "sans toutes les autorisations dont Relais a besoin" in visible(await back.text())
    assert await _consent_state(sessions, scene.claire.firm_id) == "failed"


async def test_a_forged_callback_is_refused(
    tclient: Client, fake_entra: FakeEntra, sessions: Sessions, scene: Scene
) -> None:
    await sign_in_demo(tclient, CLAIRE)
    fake_entra.consent(OTHER_TENANT, CLIENT_ID)
    # Without this session's state: nothing recorded.
    forged = await tclient.get(
        "/admin/tenant/consent/callback?"
        + urlencode({"admin_consent": "True", "tenant": DEMO_TENANT_ID, "state": "x.y"})
    )
    assert forged.status == 403
    assert "ne correspond à aucune demande faite depuis cette session" in visible(
        await forged.text()
    )
    # With a genuine state but another tenant: refused too.
    page = await _page(tclient, "/admin/tenant")
    start = await tclient.post(
        "/admin/tenant/consent", data={"csrf_token": csrf_of(page)}, allow_redirects=False
    )
    state = parse_qs(urlsplit(start.headers["Location"]).query)["state"][0]
    other = await tclient.get(
        "/admin/tenant/consent/callback?"
        + urlencode({"admin_consent": "True", "tenant": OTHER_TENANT, "state": state})
    )
    assert other.status == 403
    assert "concerne un autre espace Microsoft que celui de votre cabinet" in visible(
        await other.text()
    )
    assert await _consent_state(sessions, scene.claire.firm_id) == "none"
    # The state was single-use: replaying it now fails as well.
    replay = await tclient.get(
        "/admin/tenant/consent/callback?"
        + urlencode({"admin_consent": "True", "tenant": DEMO_TENANT_ID, "state": state})
    )
    assert replay.status == 403
    assert await _consent_state(sessions, scene.claire.firm_id) == "none"


async def test_check_again(
    tclient: Client, fake_entra: FakeEntra, sessions: Sessions, scene: Scene
) -> None:
    await sign_in_demo(tclient, CLAIRE)
    fake_entra.consent(DEMO_TENANT_ID, CLIENT_ID, FULL_ROLES)  # by another tenant administrator
    page = await _page(tclient, "/admin/tenant")
    checked = await tclient.post("/admin/tenant/check", data={"csrf_token": csrf_of(page)})
    assert checked.status == 200
    assert "Vérifié : le consentement est bien accordé." in visible(await checked.text())
    assert await _consent_state(sessions, scene.claire.firm_id) == "granted"


async def test_others_read_the_state_and_cannot_act(
    tclient: Client, fake_entra: FakeEntra, sessions: Sessions, scene: Scene
) -> None:
    await sign_in_demo(tclient, MARC)
    page = await _page(tclient, "/admin/tenant")
    assert "Seuls les administrateurs du cabinet accordent ou vérifient" in visible(page)
    assert 'action="/admin/tenant/consent"' not in page
    for path in ("/admin/tenant/consent", "/admin/tenant/check"):
        response = await tclient.post(path, data={"csrf_token": csrf_of(page)})
        assert response.status == 403, path
    assert len(fake_entra.tokens) == 0
    # The Team page links to the firm's Microsoft 365 page.
    assert 'href="/admin/tenant"' in await _page(tclient, "/admin/team")


async def test_the_tenant_page_in_english(tclient: Client, scene: Scene) -> None:
    await sign_in_demo(tclient, JAMES)
    text = visible(await _page(tclient, "/admin/tenant"))
    assert "Microsoft 365" in text and "Consent not granted yet" in text
    assert "Only the firm's administrators grant or check consent." in text


# --------------------------------------------------------------------------- a contact's invitation


async def test_inviting_without_consent_says_how_to_grant_it_in_french_and_english(
    tclient: Client, fake_entra: FakeEntra, sessions: Sessions, scene: Scene
) -> None:
    for who, expected in (
        (
            SOPHIE,
            "Impossible d'inviter Nina Neuve dans l'espace Microsoft du cabinet : Relais n'y a pas "
            "encore reçu le consentement d'un administrateur. Un administrateur doit d'abord "
            "accorder le consentement : http://127.0.0.1:3978/admin/tenant",
        ),
        (
            JAMES,
            "Nina Neuve cannot be invited to the firm's Microsoft 365 yet: Relais has not received "
            "an administrator's consent there. An administrator must grant consent "
            "first: http://127.0.0.1:3978/admin/tenant",
        ),
    ):
        tclient.session.cookie_jar.clear()  # a new browser: each person's own language
        await sign_in_demo(tclient, who)
        page = await _page(tclient, f"/admin/contacts/{scene.uninvited}")
        response = await tclient.post(
            f"/admin/contacts/{scene.uninvited}/invite", data={"csrf_token": csrf_of(page)}
        )
        assert response.status == 409
        answer = await response.text()
        assert expected in visible(answer)
        assert '<a href="/admin/tenant">' in answer
    assert len(fake_entra.graph_calls) == 0


async def test_invite_check_again_and_the_contact_becomes_selectable(
    tclient: Client, fake_entra: FakeEntra, sessions: Sessions, scene: Scene
) -> None:
    await set_consent(sessions, fake_entra, scene.sophie.firm_id, DEMO_TENANT_ID)
    await sign_in_demo(tclient, SOPHIE)
    page = await _page(tclient, f"/admin/contacts/{scene.uninvited}")
    text = visible(page)
    assert (
        "Accès à Microsoft Teams" in text
        and "Pas encore d'invitation dans l'espace Microsoft du cabinet." in text
    )
    assert f'action="/admin/contacts/{scene.uninvited}/invite"' in page

    invited = await tclient.post(
        f"/admin/contacts/{scene.uninvited}/invite", data={"csrf_token": csrf_of(page)}
    )
    assert invited.status == 200 and invited.url.path == f"/admin/contacts/{scene.uninvited}"
    page = await invited.text()
    text = visible(page)
    assert "Invitation envoyée à Nina Neuve (n@zzt.fr) dans sa langue." in text
    assert re.search(r"Invitation envoyée le \d\d/\d\d/\d{4} à \d\d:\d\d UTC", text)
    assert f'action="/admin/contacts/{scene.uninvited}/invitation/check"' in page
    assert "Nina Neuve n@zzt.fr — Invitation envoyée" in visible(
        await _page(tclient, "/admin/contacts?q=zzt.fr")
    )

    # Not accepted yet: greyed in the dialog.
    start = scene.apps["start"]
    dialog = await _page(tclient, f"/admin/dossiers/{scene.code}/applications")
    assert re.search(rf'name="contacts-{start}" value="{scene.uninvited}"[^>]*disabled', dialog)
    still = await tclient.post(
        f"/admin/contacts/{scene.uninvited}/invitation/check", data={"csrf_token": csrf_of(page)}
    )
    assert "Vérifié : l'invitation de Nina Neuve est toujours en attente." in visible(
        await still.text()
    )

    fake_entra.accept_invitation(DEMO_TENANT_ID, "n@zzt.fr")
    accepted = await tclient.post(
        f"/admin/contacts/{scene.uninvited}/invitation/check", data={"csrf_token": csrf_of(page)}
    )
    text = visible(await accepted.text())
    assert "Nina Neuve a accepté l'invitation" in text
    assert (
        "Invitation acceptée dans l'espace Microsoft du cabinet : peut recevoir des offres dans Teams."
        in text
    )
    dialog = await _page(tclient, f"/admin/dossiers/{scene.code}/applications")
    assert re.search(rf'name="contacts-{start}" value="{scene.uninvited}"', dialog)
    assert not re.search(
        rf'name="contacts-{start}" value="{scene.uninvited}"[^>]*disabled', dialog
    ), "the accepted contact should be selectable"
    async with sessions() as session:
        contact = await session.get(Contact, scene.uninvited)
        invitation = await session.scalar(
            select(Invitation).where(Invitation.contact_id == scene.uninvited)
        )
    assert contact is not None and invitation is not None
    assert contact.entra_object_id == invitation.graph_user_id


async def test_an_invalid_email_stays_on_the_contact_with_no_call(
    tclient: Client, fake_entra: FakeEntra, sessions: Sessions, scene: Scene
) -> None:
    await set_consent(sessions, fake_entra, scene.sophie.firm_id, DEMO_TENANT_ID)
    async with sessions() as session, session.begin():
        await session.execute(
            update(Contact).where(Contact.id == scene.uninvited).values(email="nina@zzt")
        )
    await sign_in_demo(tclient, SOPHIE)
    page = await _page(tclient, f"/admin/contacts/{scene.uninvited}")
    response = await tclient.post(
        f"/admin/contacts/{scene.uninvited}/invite", data={"csrf_token": csrf_of(page)}
    )
    assert response.status == 400
    assert "L'adresse e-mail de Nina Neuve (« nina@zzt ») n'est pas valide" in visible(
        await response.text()
    )
    assert len(fake_entra.graph_calls) == 0


async def test_a_microsoft_refusal_shows_the_reason(
    tclient: Client, fake_entra: FakeEntra, sessions: Sessions, scene: Scene
) -> None:
    await set_consent(sessions, fake_entra, scene.sophie.firm_id, DEMO_TENANT_ID)
    fake_entra.graph_fail_next(
        400,
        "BadRequest",
        "Guest invitations not allowed for your company.",
        path="/v1.0/invitations",
    )
    await sign_in_demo(tclient, SOPHIE)
    page = await _page(tclient, f"/admin/contacts/{scene.uninvited}")
    response = await tclient.post(
        f"/admin/contacts/{scene.uninvited}/invite", data={"csrf_token": csrf_of(page)}
    )
    assert response.status == 502
    text = visible(await response.text())
    assert (
        "Microsoft a refusé l'invitation de Nina Neuve : Guest invitations not allowed for your "
        "company." in text
    )
    assert "L'invitation a échoué." in text and "Invitation en échec" in text
    assert "Inviter à nouveau" in text


async def test_a_collaborator_without_rights_sees_no_button_and_a_forged_post_is_refused(
    tclient: Client, fake_entra: FakeEntra, sessions: Sessions, scene: Scene
) -> None:
    await set_consent(sessions, fake_entra, scene.sophie.firm_id, DEMO_TENANT_ID)
    await sign_in_demo(tclient, PAUL)
    page = await _page(tclient, f"/admin/contacts/{scene.uninvited}")
    assert (
        "/invite" not in page
        and "Pas encore d'invitation dans l'espace Microsoft du cabinet." in visible(page)
    )
    for path in (
        f"/admin/contacts/{scene.uninvited}/invite",
        f"/admin/contacts/{scene.uninvited}/invitation/check",
    ):
        response = await tclient.post(path, data={"csrf_token": csrf_of(page)})
        assert response.status == 403, path
        assert "Vous ne pouvez pas inviter Nina Neuve" in visible(await response.text())
    # Without the CSRF token nobody gets through, administrators included.
    await sign_in_demo(tclient, CLAIRE)
    response = await tclient.post(f"/admin/contacts/{scene.uninvited}/invite", data={})
    assert response.status == 403
    assert len(fake_entra.graph_calls) == 0


async def test_another_firms_contact_cannot_be_invited(
    tclient: Client, fake_entra: FakeEntra, sessions: Sessions, scene: Scene
) -> None:
    async with sessions() as session, session.begin():
        firm = Firm(name="Autre", tenant_id=OTHER_TENANT, consent_state="granted")
        session.add(firm)
        await session.flush()
        bob = Contact(firm_id=firm.id, first_name="Bob", last_name="Autre", email="bob@b.fr")
        session.add(bob)
        await session.flush()
        bob_id = bob.id
    await set_consent(sessions, fake_entra, scene.claire.firm_id, DEMO_TENANT_ID)
    page = await sign_in_demo(tclient, CLAIRE)
    for path in (f"/admin/contacts/{bob_id}/invite", f"/admin/contacts/{bob_id}/invitation/check"):
        response = await tclient.post(path, data={"csrf_token": csrf_of(page)})
        assert response.status == 404, path
        assert "Bob" not in visible(await response.text())
    assert len(fake_entra.graph_calls) == 0


async def test_the_server_runs_the_invitation_refresher_and_stops_it_cleanly(
    aiohttp_client: Any, entra_settings: Settings, settings: Settings, demo: DemoInfo
) -> None:
    def refreshers() -> list[asyncio.Task[Any]]:
        return [t for t in asyncio.all_tasks() if t.get_name() == "invitation-refresher"]

    client = await aiohttp_client(build_app(entra_settings))
    (task,) = refreshers()
    assert not task.done()
    await client.close()
    assert task.done() and refreshers() == []
    # Without an Entra app registration there is nothing to refresh: no task at all.
    plain = await aiohttp_client(build_app(settings))
    assert refreshers() == []
    await plain.close()
