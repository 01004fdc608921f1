"""The fakes speak their protocols well enough for the real clients (msal, requests, httpx,
PyJWT, aiosmtplib) used by Relais and by botbuilder."""

from __future__ import annotations

import hashlib
import json
import re
from email.message import EmailMessage
from urllib.parse import parse_qs, urlparse

import aiosmtplib
import httpx
import jwt
import msal
import pytest
import requests
from aiohttp import web

from tests.fakes.activities import members_added, teams_message
from tests.fakes.channel import FakeChannelIssuer
from tests.fakes.connector import FakeBotConnector
from tests.fakes.entra import BOTFRAMEWORK_TENANT_ID, FakeEntra
from tests.fakes.server import ServerThread
from tests.fakes.smtp import FakeSmtp

TENANT = "11111111-2222-4333-8444-555555555555"
CLIENT_ID = "client-app"
SECRET = "s3cret"


def _msal_app(
    fake_entra: FakeEntra, tenant: str, secret: str = SECRET
) -> msal.ConfidentialClientApplication:
    """Relais' confidential client (CLIENT_ID) against the fake Entra's ``tenant`` authority."""
    return msal.ConfidentialClientApplication(
        CLIENT_ID,
        client_credential=secret,
        authority=fake_entra.authority(tenant),
        validate_authority=False,
        instance_discovery=False,
    )


def _jwks_key(jwks_url: str, token: str) -> object:
    return jwt.PyJWKClient(jwks_url).get_signing_key_from_jwt(token).key


def test_server_thread_serves_then_stops() -> None:
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hello")

    app = web.Application()
    app.router.add_get("/", hello)
    with ServerThread(app) as server:
        url = server.url
        assert requests.get(url, timeout=5).text == "hello"
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=5)


def test_bot_connector_records_replies_and_answers_ids(
    fake_bot_connector: FakeBotConnector,
) -> None:
    base = fake_bot_connector.url
    reply = requests.post(
        f"{base}v3/conversations/a:conv/activities/123",
        json={"type": "message", "text": "hi"},
        headers={"Authorization": "Bearer abc"},
        timeout=5,
    )
    assert reply.status_code == 201 and reply.json()["id"]
    update = requests.put(
        f"{base}v3/conversations/a:conv/activities/{reply.json()['id']}",
        json={"type": "message", "text": "edited"},
        timeout=5,
    )
    assert update.json() == {"id": reply.json()["id"]}
    created = requests.post(f"{base}v3/conversations", json={"members": []}, timeout=5)
    assert created.json()["id"].startswith("a:")

    [sent] = fake_bot_connector.wait_for_sent(1, conversation_id="a:conv")
    assert (sent.kind, sent.text, sent.authorization) == ("reply", "hi", "Bearer abc")
    assert [call.kind for call in fake_bot_connector.calls.items] == [
        "reply",
        "update",
        "create_conversation",
    ]
    with pytest.raises(AssertionError, match="expected 2"):
        fake_bot_connector.wait_for_sent(2, timeout=0.2)


def test_bot_connector_can_fail_and_serve_members(fake_bot_connector: FakeBotConnector) -> None:
    base = fake_bot_connector.url
    fake_bot_connector.fail_next(503)
    failed = requests.post(f"{base}v3/conversations/c/activities", json={}, timeout=5)
    assert failed.status_code == 503
    ok = requests.post(f"{base}v3/conversations/c/activities", json={}, timeout=5)
    assert ok.status_code == 201
    fake_bot_connector.add_member("c", {"id": "29:x", "aadObjectId": "oid-1", "email": "a@b.fr"})
    member = requests.get(f"{base}v3/conversations/c/members/oid-1", timeout=5)
    assert member.json()["email"] == "a@b.fr"
    missing = requests.get(f"{base}v3/conversations/c/members/nobody", timeout=5)
    assert missing.status_code == 404


def test_entra_client_credentials_with_msal(fake_entra: FakeEntra) -> None:
    fake_entra.add_client(CLIENT_ID, SECRET)
    app = _msal_app(fake_entra, "botframework.com")
    result = app.acquire_token_for_client(scopes=["https://api.botframework.com/.default"])
    token = result["access_token"]
    jwks = json.loads(
        requests.get(
            f"{fake_entra.url}/botframework.com/v2.0/.well-known/openid-configuration", timeout=5
        ).text
    )["jwks_uri"]
    claims = jwt.decode(
        token,
        _jwks_key(jwks, token),  # type: ignore[arg-type]
        algorithms=["RS256"],
        audience="https://api.botframework.com",
    )
    assert claims["tid"] == BOTFRAMEWORK_TENANT_ID and claims["appid"] == CLIENT_ID
    assert [issued.access_token for issued in fake_entra.tokens.items] == [token]
    # msal caches the token: asking again makes no second request.
    assert (
        app.acquire_token_for_client(scopes=["https://api.botframework.com/.default"])[
            "access_token"
        ]
        == token
    )
    assert len(fake_entra.tokens) == 1


def test_entra_refuses_bad_secret_and_unconsented_tenant(fake_entra: FakeEntra) -> None:
    fake_entra.add_client(CLIENT_ID, SECRET)
    wrong = _msal_app(fake_entra, TENANT, secret="nope")
    assert (
        wrong.acquire_token_for_client(scopes=["https://graph.microsoft.com/.default"])["error"]
        == "invalid_client"
    )
    right = _msal_app(fake_entra, TENANT)
    refused = right.acquire_token_for_client(scopes=["https://graph.microsoft.com/.default"])
    assert (
        refused["error"] == "unauthorized_client" and "AADSTS700016" in refused["error_description"]
    )


def test_entra_graph_invitation_needs_consent(fake_entra: FakeEntra) -> None:
    fake_entra.add_client(CLIENT_ID, SECRET)
    fake_entra.consent(TENANT, CLIENT_ID, roles=("User.Read.All",))
    app = _msal_app(fake_entra, TENANT)
    token = app.acquire_token_for_client(scopes=["https://graph.microsoft.com/.default"])[
        "access_token"
    ]
    invite = {"invitedUserEmailAddress": "paul@client.fr", "inviteRedirectUrl": "https://x"}
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}) as graph:
        denied = graph.post(f"{fake_entra.graph_url}/invitations", json=invite)
        assert denied.status_code == 403
        assert denied.json()["error"]["code"] == "Authorization_RequestDenied"

    fake_entra.consent(TENANT, CLIENT_ID)  # the admin grants User.Invite.All too
    app = _msal_app(fake_entra, TENANT)
    token = app.acquire_token_for_client(scopes=["https://graph.microsoft.com/.default"])[
        "access_token"
    ]
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}) as graph:
        created = graph.post(f"{fake_entra.graph_url}/invitations", json=invite)
        assert created.status_code == 201 and created.json()["status"] == "PendingAcceptance"
        user_id = created.json()["invitedUser"]["id"]
        user = graph.get(f"{fake_entra.graph_url}/users/{user_id}").json()
        assert (user["mail"], user["userType"], user["externalUserState"]) == (
            "paul@client.fr",
            "Guest",
            "PendingAcceptance",
        )
        fake_entra.accept_invitation(TENANT, "paul@client.fr")
        assert (
            graph.get(f"{fake_entra.graph_url}/users/paul@client.fr").json()["externalUserState"]
            == "Accepted"
        )
        assert graph.get(f"{fake_entra.graph_url}/users/nobody").status_code == 404
    assert [(c.method, c.status, c.tenant_id) for c in fake_entra.graph_calls.items] == [
        ("POST", 403, TENANT),
        ("POST", 201, TENANT),
        ("GET", 200, TENANT),
        ("GET", 200, TENANT),
        ("GET", 404, TENANT),
    ]
    assert fake_entra.graph_calls.items[1].body == invite


def test_entra_oidc_auth_code_flow_with_msal(fake_entra: FakeEntra) -> None:
    fake_entra.add_client(CLIENT_ID, SECRET)
    fake_entra.sign_in_as(TENANT, "oid-claire", "Claire Durand", "claire@durand.fr")
    app = _msal_app(fake_entra, "organizations")
    flow = app.initiate_auth_code_flow(
        ["User.Read"], redirect_uri="http://127.0.0.1/cb", response_mode="form_post"
    )
    page = requests.get(flow["auth_uri"], allow_redirects=False, timeout=5)
    assert 'action="http://127.0.0.1/cb"' in page.text
    posted = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', page.text))
    result = app.acquire_token_by_auth_code_flow(flow, posted)
    claims = result["id_token_claims"]
    assert (claims["tid"], claims["oid"], claims["name"], claims["nonce"]) == (
        TENANT,
        "oid-claire",
        "Claire Durand",
        hashlib.sha256(flow["nonce"].encode()).hexdigest(),  # msal sends the nonce hashed
    )
    # A code is good once.
    assert "error" in app.acquire_token_by_auth_code_flow(flow, posted)


def test_entra_authorize_redirects_with_code_in_query(fake_entra: FakeEntra) -> None:
    fake_entra.add_client(CLIENT_ID, SECRET)
    fake_entra.sign_in_as(TENANT, "oid-claire", "Claire Durand", "claire@durand.fr")
    answer = requests.get(
        f"{fake_entra.url}/{TENANT}/oauth2/v2.0/authorize",
        params={
            "client_id": CLIENT_ID,
            "redirect_uri": "http://127.0.0.1/cb",
            "response_type": "code",
            "state": "xyz",
        },
        allow_redirects=False,
        timeout=5,
    )
    assert answer.status_code == 302
    location = urlparse(answer.headers["Location"])
    query = parse_qs(location.query)
    assert location.path == "/cb" and query["state"] == ["xyz"] and query["code"]


def test_entra_authorize_refuses_without_signed_in_user(fake_entra: FakeEntra) -> None:
    fake_entra.add_client(CLIENT_ID, SECRET)
    answer = httpx.get(
        f"{fake_entra.url}/{TENANT}/oauth2/v2.0/authorize",
        params={"client_id": CLIENT_ID, "redirect_uri": "http://x/cb", "response_type": "code"},
    )
    assert answer.status_code == 400 and "sign_in_as" in answer.text


async def test_httpx_async_trusts_the_fake_ca(fake_entra: FakeEntra) -> None:
    async with httpx.AsyncClient() as client:
        answer = await client.get(f"{fake_entra.url}/common/discovery/instance")
    assert answer.json()["tenant_discovery_endpoint"].startswith(fake_entra.url)


def test_channel_issuer_tokens_verify_only_when_genuine(
    fake_channel_issuer: FakeChannelIssuer,
) -> None:
    metadata = requests.get(fake_channel_issuer.metadata_url, timeout=5).json()
    assert metadata["issuer"] == "https://api.botframework.com"
    good = fake_channel_issuer.mint("app", "https://svc/")
    key = _jwks_key(metadata["jwks_uri"], good)
    claims = jwt.decode(good, key, algorithms=["RS256"], audience="app")  # type: ignore[arg-type]
    assert claims["serviceurl"] == "https://svc/"
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(
            fake_channel_issuer.mint("app", "https://svc/", wrong_signature=True),
            key,  # type: ignore[arg-type]
            algorithms=["RS256"],
            audience="app",
        )
    with pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(
            fake_channel_issuer.mint("app", "https://svc/", expired=True),
            key,  # type: ignore[arg-type]
            algorithms=["RS256"],
            audience="app",
        )
    keys = requests.get(metadata["jwks_uri"], timeout=5).json()["keys"]
    assert "msteams" in keys[0]["endorsements"]


async def test_smtp_records_messages(fake_smtp: FakeSmtp) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "relais@x.fr", "a@b.fr", "Bonjour"
    message.set_content("Le dossier CEGID001 est connecté.")
    await aiosmtplib.send(message, hostname=fake_smtp.host, port=fake_smtp.port)
    [mail] = await fake_smtp.messages.await_for(1)
    assert (mail.mail_from, mail.rcpt_tos, mail.subject) == ("relais@x.fr", ["a@b.fr"], "Bonjour")
    assert "CEGID001" in mail.text


def test_activity_builders_are_teams_shaped() -> None:
    message = teams_message("help", service_url="http://svc/", tenant_id=TENANT, user_aad_id="o")
    assert message["channelData"]["tenant"]["id"] == message["conversation"]["tenantId"] == TENANT
    assert message["conversation"]["conversationType"] == "personal"
    assert (message["type"], message["text"], message["from"]["aadObjectId"]) == (
        "message",
        "help",
        "o",
    )
    update = members_added(service_url="http://svc/", tenant_id=TENANT, user_aad_id="o")
    assert update["membersAdded"] == [{"id": update["recipient"]["id"]}]
    assert update["conversation"]["id"] == message["conversation"]["id"]
