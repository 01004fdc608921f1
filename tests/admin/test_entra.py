"""Signing in with Microsoft Entra: the real msal flow against the local fake Entra (HTTPS)."""

from __future__ import annotations

import ssl
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from hub.settings import Settings
from relais.app import build_app
from relais.demo import DEMO_TENANT_ID
from storage.models import AuditEvent
from tests.admin.conftest import CLAIRE, Client, csrf_of, html_lang, visible
from tests.fakes.entra import FakeEntra

CLIENT_ID = "11111111-2222-4333-8444-555555555555"
CLIENT_SECRET = "panel-client-secret"
FIRST_CONTACT = "c0000000-0000-4000-8000-000000000001"


@pytest.fixture
async def entra_client(
    aiohttp_client: Any, settings: Settings, demo: Any, fake_entra: FakeEntra
) -> Client:
    fake_entra.add_client(CLIENT_ID, CLIENT_SECRET)
    configured = settings.model_copy(
        update={
            "entra_client_id": CLIENT_ID,
            "entra_client_secret": SecretStr(CLIENT_SECRET),
            "entra_authority_host": fake_entra.url,
        }
    )
    client: Client = await aiohttp_client(build_app(configured))
    return client


async def _through_entra(client: Client, fake_entra: FakeEntra, next_path: str = "") -> Any:
    """Click "Sign in with Microsoft", let (fake) Entra answer, come back to the callback."""
    params = {"next": next_path} if next_path else {}
    start = await client.get("/admin/login/microsoft", params=params, allow_redirects=False)
    assert start.status == 302, await start.text()
    authorize = start.headers["Location"]
    assert authorize.startswith(f"{fake_entra.url}/organizations/oauth2/v2.0/authorize")
    context = ssl.create_default_context(cafile=str(fake_entra.ca_bundle))
    async with (
        aiohttp.ClientSession() as browser,
        browser.get(authorize, allow_redirects=False, ssl=context) as answer,
    ):
        assert answer.status == 302, await answer.text()
        back = urlsplit(answer.headers["Location"])
    assert back.path == "/admin/auth/callback"
    return await client.get(f"/admin/auth/callback?{back.query}")


async def test_sign_in_with_microsoft(
    entra_client: Client, fake_entra: FakeEntra, sessions: Any
) -> None:
    fake_entra.sign_in_as(DEMO_TENANT_ID, CLAIRE, "Claire Durand", "claire.durand@example.fr")
    response = await _through_entra(entra_client, fake_entra, "/admin/contacts")
    assert response.status == 200
    assert response.url.path == "/admin/contacts"
    text = visible(await response.text())
    assert "Claire Durand" in text
    assert "Interlocuteurs" in text
    request = fake_entra.authorize_requests.items[-1]
    assert request["client_id"] == CLIENT_ID
    assert request["redirect_uri"] == "http://127.0.0.1:3978/admin/auth/callback"
    assert "openid" in request["scope"].split()
    async with sessions() as session:
        event = await session.scalar(
            select(AuditEvent).where(AuditEvent.action == "panel.signed_in")
        )
    assert event is not None
    assert event.details == {"method": "entra"}


async def test_signing_out_after_microsoft_sign_in_ends_the_session_on_the_server(
    entra_client: Client, fake_entra: FakeEntra
) -> None:
    fake_entra.sign_in_as(DEMO_TENANT_ID, CLAIRE, "Claire Durand", "claire.durand@example.fr")
    page = await (await _through_entra(entra_client, fake_entra, "/admin/contacts")).text()
    jar = entra_client.session.cookie_jar
    copied = jar.filter_cookies(entra_client.make_url("/admin/"))["relais_admin"].value
    await entra_client.post("/admin/logout", data={"csrf_token": csrf_of(page)})
    # The cookie as it was before signing out, put back: refused, back to the sign-in page.
    jar.clear()
    jar.update_cookies({"relais_admin": copied}, entra_client.make_url("/admin/"))
    response = await entra_client.get("/admin/contacts", allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"] == "/admin/login?next=/admin/contacts"


async def test_unknown_tenant_is_refused_with_a_page(
    entra_client: Client, fake_entra: FakeEntra
) -> None:
    fake_entra.sign_in_as(
        "99999999-9999-4999-8999-999999999999", CLAIRE, "Claire Durand", "claire@other.example"
    )
    response = await _through_entra(entra_client, fake_entra)
    assert response.status == 403
    text = visible(await response.text())
    assert "Accès refusé" in text
    assert "n'est pas reconnu" in text
    assert (await entra_client.get("/admin/", allow_redirects=False)).status == 302


async def test_unknown_person_of_the_firm_is_refused(
    entra_client: Client, fake_entra: FakeEntra
) -> None:
    fake_entra.sign_in_as(
        DEMO_TENANT_ID, "a0000000-0000-4000-8000-0000000000ff", "Stranger", "s@example.fr"
    )
    response = await _through_entra(entra_client, fake_entra)
    assert response.status == 403
    assert "n'est pas reconnu" in visible(await response.text())


async def test_a_client_contact_cannot_use_the_panel(
    entra_client: Client, fake_entra: FakeEntra
) -> None:
    fake_entra.sign_in_as(DEMO_TENANT_ID, FIRST_CONTACT, "Julie", "julie@client.example")
    response = await _through_entra(entra_client, fake_entra)
    assert response.status == 403
    assert "Accès refusé" in visible(await response.text())
    assert (await entra_client.get("/admin/applications", allow_redirects=False)).status == 302


async def test_a_forged_or_replayed_callback_is_refused(
    entra_client: Client, fake_entra: FakeEntra
) -> None:
    fake_entra.sign_in_as(DEMO_TENANT_ID, CLAIRE, "Claire Durand", "claire.durand@example.fr")
    # No sign-in started in this browser.
    response = await entra_client.get("/admin/auth/callback?code=abc&state=xyz")
    assert response.status == 403
    assert "connexion Microsoft n'a pas abouti" in visible(await response.text())
    # Started, but the state that comes back is not ours.
    await entra_client.get("/admin/login/microsoft", allow_redirects=False)
    response = await entra_client.get("/admin/auth/callback?code=abc&state=not-ours")
    assert response.status == 403
    assert (await entra_client.get("/admin/", allow_redirects=False)).status == 302


async def test_entra_refusal_is_shown_as_a_page(
    entra_client: Client, fake_entra: FakeEntra
) -> None:
    start = await entra_client.get("/admin/login/microsoft", allow_redirects=False)
    state = parse_qs(urlsplit(start.headers["Location"]).query)["state"][0]
    response = await entra_client.get(
        "/admin/auth/callback",
        params={
            "error": "access_denied",
            "error_description": "AADSTS65004: User declined to consent",
            "state": state,
        },
        headers={"Accept-Language": "en"},
    )
    assert response.status == 403
    page = await response.text()
    assert html_lang(page) == "en"
    assert "The Microsoft sign-in did not complete" in visible(page)


async def test_microsoft_sign_in_not_configured_says_so(client: Client) -> None:
    page = await (await client.get("/admin/login")).text()
    assert "RELAIS_ENTRA_CLIENT_ID" in visible(page)
    response = await client.get("/admin/login/microsoft", allow_redirects=False)
    assert response.status == 503
    assert "RELAIS_ENTRA_CLIENT_ID" in visible(await response.text())
