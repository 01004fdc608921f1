"""Bot Framework authentication on ``/api/messages`` with a bot app id configured: only tokens the
channel really issued for this bot and this serviceUrl get in; every other request is a 401 that
leaves no trace, and the bot signs its replies with a token from Entra."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from hub.settings import Settings
from relais.app import build_app
from relais.demo import DEMO_TENANT_ID
from storage.db import Sessions
from storage.models import BotState, ConversationRef
from tests.fakes.activities import teams_message
from tests.fakes.channel import FakeChannelIssuer
from tests.fakes.connector import FakeBotConnector
from tests.fakes.entra import FakeEntra
from tests.fakes.fixtures import BOT_APP_ID

CLAIRE = "a0000000-0000-4000-8000-000000000001"  # demo administrator


@pytest.fixture
async def client(bot_settings: Settings, demo: object, aiohttp_client: Any) -> TestClient:
    return await aiohttp_client(build_app(bot_settings))


def help_from_claire(connector: FakeBotConnector) -> dict[str, Any]:
    return teams_message(
        "help",
        service_url=connector.url,
        tenant_id=DEMO_TENANT_ID,
        user_aad_id=CLAIRE,
        user_name="Claire Durand",
    )


async def rows(sessions: Sessions, model: type) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def _token(channel: FakeChannelIssuer, service_url: str, **knobs: Any) -> str:
    return channel.authorization(BOT_APP_ID, service_url, **knobs)


REFUSALS: dict[str, Any] = {
    "no Authorization header": None,
    "bad signature": lambda i, url: _token(i, url, wrong_signature=True),
    "expired": lambda i, url: _token(i, url, expired=True),
    "wrong audience": lambda i, url: _token(i, url, audience="another-bot"),
    "wrong serviceUrl claim": lambda i, url: _token(
        i, url, service_url_claim="https://smba.evil.example/"
    ),
    "wrong issuer": lambda i, url: _token(i, url, issuer="https://evil.example"),
    "unknown signing key": lambda i, url: _token(i, url, kid="not-a-published-key"),
    "malformed token": lambda i, url: "Bearer not.a.jwt",
    "not a bearer token": lambda i, url: "Basic Y2xhaXJlOnNlY3JldA==",
    "empty bearer": lambda i, url: "Bearer ",
}


@pytest.mark.parametrize("case", list(REFUSALS))
async def test_a_request_the_channel_did_not_sign_for_this_bot_is_refused_without_trace(
    case: str,
    client: TestClient,
    fake_channel_issuer: FakeChannelIssuer,
    fake_bot_connector: FakeBotConnector,
    fake_entra: FakeEntra,
    sessions: Sessions,
    caplog: pytest.LogCaptureFixture,
) -> None:
    make = REFUSALS[case]
    header = make(fake_channel_issuer, fake_bot_connector.url) if make else None
    headers = {"Authorization": header} if header else {}
    caplog.set_level(logging.INFO, logger="bot.auth")

    response = await client.post(
        "/api/messages", json=help_from_claire(fake_bot_connector), headers=headers
    )

    assert response.status == 401
    assert fake_bot_connector.calls.items == []  # no reply, no proactive message
    assert fake_entra.tokens.items == []  # the bot did not even ask for a token to answer
    assert await rows(sessions, BotState) == 0
    assert await rows(sessions, ConversationRef) == 0
    refusals = [r for r in caplog.records if "refused (401)" in r.getMessage()]
    assert len(refusals) == 1
    if header:
        secret_part = header.split(" ", 1)[1]
        assert not secret_part or all(secret_part not in r.getMessage() for r in caplog.records)


async def test_a_genuine_channel_token_gets_a_reply_signed_by_entra(
    client: TestClient,
    fake_channel_issuer: FakeChannelIssuer,
    fake_bot_connector: FakeBotConnector,
    fake_entra: FakeEntra,
) -> None:
    activity = help_from_claire(fake_bot_connector)
    response = await client.post(
        "/api/messages",
        json=activity,
        headers={"Authorization": _token(fake_channel_issuer, fake_bot_connector.url)},
    )

    assert response.status in (200, 201), await response.text()
    [reply] = await fake_bot_connector.await_sent(1)
    assert reply.conversation_id == activity["conversation"]["id"]
    assert reply.adaptive_cards, reply.body  # help answers with a card
    [issued] = fake_entra.tokens.items
    assert (issued.client_id, issued.claims["aud"]) == (BOT_APP_ID, "https://api.botframework.com")
    assert reply.authorization == f"Bearer {issued.access_token}"


async def test_later_turns_reuse_the_bot_token(
    client: TestClient,
    fake_channel_issuer: FakeChannelIssuer,
    fake_bot_connector: FakeBotConnector,
    fake_entra: FakeEntra,
) -> None:
    for _ in range(3):
        response = await client.post(
            "/api/messages",
            json=help_from_claire(fake_bot_connector),
            headers={"Authorization": _token(fake_channel_issuer, fake_bot_connector.url)},
        )
        assert response.status in (200, 201)
    replies = await fake_bot_connector.await_sent(3)
    assert len(fake_entra.tokens) == 1
    assert {reply.authorization for reply in replies} == {
        f"Bearer {fake_entra.tokens.items[0].access_token}"
    }


async def test_the_app_keeps_answering_while_signing_keys_are_fetched(
    client: TestClient,
    fake_channel_issuer: FakeChannelIssuer,
    fake_bot_connector: FakeBotConnector,
) -> None:
    """The SDK fetches keys with blocking requests; here that happens in a worker thread, so the
    event loop (other conversations, the panel) is not frozen while the key server is slow."""
    fake_channel_issuer.hold_keys()
    turn = asyncio.create_task(
        client.post(
            "/api/messages",
            json=help_from_claire(fake_bot_connector),
            headers={"Authorization": _token(fake_channel_issuer, fake_bot_connector.url)},
        )
    )
    await fake_channel_issuer.fetches.await_for(2)  # metadata, then the (held) keys request
    health = await client.get("/healthz")
    assert health.status == 200
    assert not fake_channel_issuer.hold_timed_out  # answered while the keys were still held
    fake_channel_issuer.release_keys()
    response = await turn
    assert response.status in (200, 201)
    assert len(await fake_bot_connector.await_sent(1)) == 1


async def test_a_burst_of_turns_fetches_the_signing_keys_once(
    client: TestClient,
    fake_channel_issuer: FakeChannelIssuer,
    fake_bot_connector: FakeBotConnector,
) -> None:
    responses = await asyncio.gather(
        *(
            client.post(
                "/api/messages",
                json=help_from_claire(fake_bot_connector),
                headers={"Authorization": _token(fake_channel_issuer, fake_bot_connector.url)},
            )
            for _ in range(5)
        )
    )
    assert [r.status in (200, 201) for r in responses] == [True] * 5
    assert len(fake_channel_issuer.fetches.items) == 2  # one metadata + one keys request
    assert len(await fake_bot_connector.await_sent(5)) == 5


async def test_demo_mode_without_app_id_accepts_unsigned_requests(
    settings: Settings, demo: object, aiohttp_client: Any, fake_bot_connector: FakeBotConnector
) -> None:
    assert settings.bot_app_id == ""  # demo settings: authentication is off
    client = await aiohttp_client(build_app(settings))
    response = await client.post("/api/messages", json=help_from_claire(fake_bot_connector))
    assert response.status in (200, 201), await response.text()
    [reply] = await fake_bot_connector.await_sent(1)
    assert reply.authorization is None  # replies are not signed either


async def test_unreachable_signing_keys_refuse_the_request_and_say_why(
    client: TestClient,
    fake_channel_issuer: FakeChannelIssuer,
    fake_bot_connector: FakeBotConnector,
    caplog: pytest.LogCaptureFixture,
) -> None:
    header = _token(fake_channel_issuer, fake_bot_connector.url)
    fake_channel_issuer.stop()  # the key server is down
    response = await client.post(
        "/api/messages",
        json=help_from_claire(fake_bot_connector),
        headers={"Authorization": header},
    )
    assert response.status == 401
    assert fake_bot_connector.calls.items == []
    [logged] = [r for r in caplog.records if "refused (401)" in r.getMessage()]
    assert logged.levelno == logging.ERROR
    assert "could not fetch the signing keys" in logged.getMessage()
