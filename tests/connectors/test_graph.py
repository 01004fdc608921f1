"""The Microsoft Graph client against the local fake Entra + Graph (HTTPS, real msal and httpx)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from connectors.graph import (
    ConsentRequired,
    GraphClient,
    GraphConfig,
    GraphError,
    retry_after_seconds,
)
from tests.fakes.entra import FakeEntra

CLIENT_ID = "22222222-3333-4444-8555-666666666666"
CLIENT_SECRET = "graph-client-secret"
TENANT = "7d3c1f0e-5b1a-4c7e-9d2f-0a1b2c3d4e5f"
OTHER_TENANT = "00000000-0000-4000-8000-00000000b0b0"


class Sleeps:
    """An injected ``sleep`` that only records how long the client wanted to wait."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def graph(fake_entra: FakeEntra, sleeps: Sleeps) -> AsyncIterator[GraphClient]:
    fake_entra.add_client(CLIENT_ID, CLIENT_SECRET)
    client = GraphClient(
        GraphConfig(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            authority_host=fake_entra.url,
            graph_url=fake_entra.graph_url,
        ),
        sleep=sleeps,
        jitter=lambda: 1.0,  # the upper bound of full jitter, so the waits are predictable
    )
    yield client
    await client.aclose()


def _app_tokens(fake_entra: FakeEntra, tenant: str) -> int:
    return sum(
        1
        for t in fake_entra.tokens.items
        if t.grant_type == "client_credentials" and t.claims["tid"] == tenant
    )


async def _invite(graph: GraphClient, email: str = "julie@client.example") -> object:
    return await graph.invite(
        TENANT,
        email,
        "Julie Bernard",
        f"https://teams.microsoft.com/?tenantId={TENANT}",
        "Bonjour Julie",
        "fr-FR",
    )


async def test_constructing_the_client_touches_no_network() -> None:
    client = GraphClient(GraphConfig("id", "secret", authority_host="https://192.0.2.1"))
    assert client.configured
    await client.aclose()
    assert not GraphClient(GraphConfig("", "")).configured


async def test_app_tokens_are_cached_per_tenant_and_carry_the_roles(
    graph: GraphClient, fake_entra: FakeEntra
) -> None:
    fake_entra.consent(TENANT, CLIENT_ID)
    first = await graph.token(TENANT)
    second = await graph.token(TENANT)
    assert first == second
    assert _app_tokens(fake_entra, TENANT) == 1
    issued = next(t for t in fake_entra.tokens.items if t.claims["tid"] == TENANT)
    assert issued.scope == "https://graph.microsoft.com/.default"
    assert issued.tenant == TENANT  # the firm's own authority, not "common"
    assert await graph.token_roles(TENANT) == {"User.Invite.All", "User.Read.All"}
    assert _app_tokens(fake_entra, TENANT) == 1
    # A fresh check asks Entra again (roles may have changed since).
    await graph.token_roles(TENANT, fresh=True)
    assert _app_tokens(fake_entra, TENANT) == 2


async def test_a_tenant_without_consent_is_a_consent_error(
    graph: GraphClient, fake_entra: FakeEntra
) -> None:
    with pytest.raises(ConsentRequired) as caught:
        await graph.token(OTHER_TENANT)
    assert caught.value.code == "unauthorized_client"
    assert "AADSTS700016" in caught.value.message
    with pytest.raises(ConsentRequired):
        await _invite_in(graph, OTHER_TENANT)
    assert len(fake_entra.graph_calls) == 0


async def _invite_in(graph: GraphClient, tenant: str) -> object:
    return await graph.invite(tenant, "a@b.example", "A", "https://teams.microsoft.com/", "m", "fr")


async def test_a_missing_role_is_a_consent_error_without_retries(
    graph: GraphClient, fake_entra: FakeEntra, sleeps: Sleeps
) -> None:
    fake_entra.consent(TENANT, CLIENT_ID, roles=("User.Read.All",))
    with pytest.raises(ConsentRequired) as caught:
        await _invite(graph)
    assert caught.value.status == 403 and caught.value.code == "Authorization_RequestDenied"
    assert sleeps.calls == []
    assert len(fake_entra.graph_calls) == 1


async def test_an_invitation_is_sent_with_the_documented_body(
    graph: GraphClient, fake_entra: FakeEntra
) -> None:
    fake_entra.consent(TENANT, CLIENT_ID)
    sent = await _invite(graph)
    assert sent.status == "PendingAcceptance"  # type: ignore[attr-defined]
    assert sent.user_id and sent.redeem_url.startswith(fake_entra.url)  # type: ignore[attr-defined]
    (call,) = fake_entra.graph_calls.items
    assert (call.method, call.path, call.tenant_id, call.status) == (
        "POST",
        "/v1.0/invitations",
        TENANT,
        201,
    )
    assert call.authorization and call.authorization.startswith("Bearer ")
    assert call.body == {
        "invitedUserEmailAddress": "julie@client.example",
        "invitedUserDisplayName": "Julie Bernard",
        "inviteRedirectUrl": f"https://teams.microsoft.com/?tenantId={TENANT}",
        "sendInvitationMessage": True,
        "invitedUserMessageInfo": {
            "messageLanguage": "fr-FR",
            "customizedMessageBody": "Bonjour Julie",
        },
    }


async def test_a_guest_is_found_by_address_and_followed_until_accepted(
    graph: GraphClient, fake_entra: FakeEntra
) -> None:
    fake_entra.consent(TENANT, CLIENT_ID)
    assert await graph.find_guest(TENANT, "julie@client.example") is None
    sent = await _invite(graph)
    found = await graph.find_guest(TENANT, "Julie@Client.example")
    assert found is not None and found.id == sent.user_id  # type: ignore[attr-defined]
    assert (found.user_type, found.external_state, found.accepted) == (
        "Guest",
        "PendingAcceptance",
        False,
    )
    fake_entra.accept_invitation(TENANT, "julie@client.example")
    user = await graph.get_invitation_user(TENANT, found.id)
    assert user.external_state == "Accepted" and user.accepted
    # A quote in an address is escaped in the OData literal, not an injection.
    assert await graph.find_guest(TENANT, "o'brien@client.example") is None
    filters = [c.path for c in fake_entra.graph_calls.items if c.path.startswith("/v1.0/users?")]
    assert any("o%27%27brien" in p or "o''brien" in p for p in filters)


async def test_429_is_retried_after_the_time_graph_asks(
    graph: GraphClient, fake_entra: FakeEntra, sleeps: Sleeps
) -> None:
    fake_entra.consent(TENANT, CLIENT_ID)
    fake_entra.graph_fail_next(
        429, "TooManyRequests", "Too many requests", retry_after="3", path="/v1.0/invitations"
    )
    sent = await _invite(graph)
    assert sent.user_id  # type: ignore[attr-defined]
    assert sleeps.calls == [3.0]
    assert [c.status for c in fake_entra.graph_calls.items] == [429, 201]


async def test_5xx_is_retried_with_backoff_then_becomes_a_graph_error(
    graph: GraphClient, fake_entra: FakeEntra, sleeps: Sleeps
) -> None:
    fake_entra.consent(TENANT, CLIENT_ID)
    for _ in range(4):
        fake_entra.graph_fail_next(503, "ServiceUnavailable", "The service is unavailable.")
    with pytest.raises(GraphError) as caught:
        await _invite(graph)
    assert not isinstance(caught.value, ConsentRequired)
    assert (caught.value.status, caught.value.code) == (503, "ServiceUnavailable")
    assert caught.value.passing
    # Four attempts, three waits: base 0.5 s doubling (full jitter at its upper bound here).
    assert sleeps.calls == [0.5, 1.0, 2.0]
    assert len(fake_entra.graph_calls) == 4


async def test_a_long_retry_after_is_not_waited_for(
    graph: GraphClient, fake_entra: FakeEntra, sleeps: Sleeps
) -> None:
    fake_entra.consent(TENANT, CLIENT_ID)
    fake_entra.graph_fail_next(429, "TooManyRequests", "Slow down", retry_after="600")
    with pytest.raises(GraphError) as caught:
        await _invite(graph)
    assert caught.value.status == 429
    assert sleeps.calls == []


async def test_a_refusal_is_not_retried(
    graph: GraphClient, fake_entra: FakeEntra, sleeps: Sleeps
) -> None:
    fake_entra.consent(TENANT, CLIENT_ID)
    fake_entra.graph_fail_next(400, "BadRequest", "Guest invitations not allowed for your company.")
    with pytest.raises(GraphError) as caught:
        await _invite(graph)
    assert caught.value.message == "Guest invitations not allowed for your company."
    assert not caught.value.passing and sleeps.calls == []


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    seconds = retry_after_seconds(later)
    assert seconds is not None and 25 <= seconds <= 30
