"""Teams conversations through the real CloudAdapter: what a person sees come back in Teams."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from hub.conversations import reference_for
from hub.settings import Settings
from relais.app import build_app
from relais.demo import DEMO_TENANT_ID, DemoInfo
from storage.db import Sessions
from storage.models import BotState, ConversationRef
from tests.cards import assert_valid_card, cards_of, texts_of
from tests.fakes.activities import members_added, teams_message
from tests.fakes.connector import FakeBotConnector

ADMIN = "a0000000-0000-4000-8000-000000000001"
COLLABORATOR_EN = "a0000000-0000-4000-8000-000000000004"
GUEST_CONTACT = "c0000000-0000-4000-8000-000000000001"


@pytest.fixture
async def client(settings: Settings, demo: DemoInfo, aiohttp_client: Any) -> TestClient:
    return await aiohttp_client(build_app(settings))


async def say(
    client: TestClient, connector: FakeBotConnector, text: str, *, user: str = ADMIN, **kw: Any
) -> dict[str, Any]:
    """Post one message as Teams would and return the one card the bot answers with."""
    before = len(connector.sent)
    activity = teams_message(
        text,
        service_url=connector.url,
        tenant_id=kw.pop("tenant", DEMO_TENANT_ID),
        user_aad_id=user,
        **kw,
    )
    response = await client.post("/api/messages", json=activity)
    assert response.status in (200, 201), await response.text()
    replies = (await connector.await_sent(before + 1))[before:]
    assert len(replies) == 1
    (card,) = cards_of(replies[0].body)
    assert_valid_card(card)
    return card


async def test_aide_in_french_lists_the_commands_and_links_the_panel(
    client: TestClient, fake_bot_connector: FakeBotConnector
) -> None:
    card = await say(client, fake_bot_connector, "aide", locale="fr-FR")
    texts = texts_of(card)
    assert texts[0] == "Relais — ce que je sais faire"
    assert "aide" in texts and "Afficher cette liste de commandes" in texts
    assert card["actions"][0]["title"] == "Ouvrir le panneau d'administration"
    assert card["actions"][0]["url"].endswith("/admin/")


async def test_help_in_english_answers_in_english(
    client: TestClient, fake_bot_connector: FakeBotConnector
) -> None:
    card = await say(client, fake_bot_connector, "help", user=COLLABORATOR_EN, locale="en-US")
    texts = texts_of(card)
    assert texts[0] == "Relais — what I can do"
    assert "help" in texts and "Show this list of commands" in texts


async def test_the_command_word_is_understood_in_either_language_and_any_case(
    client: TestClient, fake_bot_connector: FakeBotConnector
) -> None:
    card = await say(client, fake_bot_connector, "  HELP ", locale="fr-FR")
    assert texts_of(card)[0] == "Relais — ce que je sais faire"


async def test_a_guest_contact_gets_help_without_the_panel_link(
    client: TestClient, fake_bot_connector: FakeBotConnector
) -> None:
    card = await say(client, fake_bot_connector, "aide", user=GUEST_CONTACT)
    assert texts_of(card)[0] == "Relais — ce que je sais faire"
    assert "actions" not in card


async def test_an_unknown_command_says_so_and_offers_help(
    client: TestClient, fake_bot_connector: FakeBotConnector
) -> None:
    card = await say(client, fake_bot_connector, "bonjour Relais", locale="fr-FR")
    texts = texts_of(card)
    assert texts[0] == "Je n'ai pas compris"
    assert "Je ne connais pas la commande « bonjour Relais »." in texts
    button = card["actions"][0]
    assert button["title"] == "Voir les commandes"
    assert button["data"]["msteams"] == {"type": "imBack", "value": "aide"}


@pytest.mark.parametrize(
    ("tenant", "user"),
    [
        ("11111111-2222-4333-8444-555555555555", ADMIN),  # a firm Relais does not serve
        (DEMO_TENANT_ID, "ffffffff-0000-4000-8000-000000000000"),  # someone the firm has not added
    ],
)
async def test_strangers_get_a_polite_refusal_and_nothing_is_stored(
    client: TestClient,
    fake_bot_connector: FakeBotConnector,
    sessions: Sessions,
    demo: DemoInfo,
    tenant: str,
    user: str,
) -> None:
    card = await say(client, fake_bot_connector, "help", user=user, tenant=tenant, locale="en-US")
    assert texts_of(card)[0] == "I can't help you yet"
    assert "Relais does not know you in this organisation" in texts_of(card)[1]
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ConversationRef)) == 0
        assert await session.scalar(select(func.count()).select_from(BotState)) == 0


async def test_installing_the_app_sends_a_welcome_card_and_remembers_the_conversation(
    client: TestClient, fake_bot_connector: FakeBotConnector, sessions: Sessions, demo: DemoInfo
) -> None:
    activity = members_added(
        service_url=fake_bot_connector.url,
        tenant_id=DEMO_TENANT_ID,
        user_aad_id=ADMIN,
        locale="fr-FR",
    )
    response = await client.post("/api/messages", json=activity)
    assert response.status in (200, 201)
    (reply,) = await fake_bot_connector.await_sent(1)
    (card,) = cards_of(reply.body)
    assert_valid_card(card)
    assert texts_of(card)[0] == "Bienvenue dans Relais, Claire Durand"
    assert card["actions"][0]["data"]["msteams"]["value"] == "aide"

    reference = await reference_for(sessions, demo.firm_id, "staff:1")
    assert reference is not None
    assert reference["serviceUrl"].rstrip("/") == fake_bot_connector.url.rstrip("/")
    assert reference["conversation"]["id"] == activity["conversation"]["id"]
    assert "activityId" not in reference


async def test_a_person_joining_a_conversation_is_not_welcomed_twice(
    client: TestClient, fake_bot_connector: FakeBotConnector
) -> None:
    activity = members_added(
        service_url=fake_bot_connector.url,
        tenant_id=DEMO_TENANT_ID,
        user_aad_id=ADMIN,
        bot_added=False,
    )
    response = await client.post("/api/messages", json=activity)
    assert response.status in (200, 201)
    # A help request afterwards is the first and only thing the connector receives.
    card = await say(client, fake_bot_connector, "aide")
    assert texts_of(card)[0] == "Relais — ce que je sais faire"
    assert len(fake_bot_connector.sent) == 1


@pytest.mark.parametrize(
    ("headers", "body", "status", "message"),
    [
        ({"Content-Type": "text/plain"}, b"help", 415, "application/json"),
        ({"Content-Type": "application/json"}, b"{not json", 400, "not valid JSON"),
        ({"Content-Type": "application/json"}, b'{"text": "help"}', 400, "no type"),
    ],
)
async def test_malformed_requests_are_refused_with_a_reason(
    client: TestClient,
    fake_bot_connector: FakeBotConnector,
    headers: dict[str, str],
    body: bytes,
    status: int,
    message: str,
) -> None:
    response = await client.post("/api/messages", data=body, headers=headers)
    assert response.status == status
    assert message in (await response.json())["error"]
    assert fake_bot_connector.sent == []


async def test_health_says_the_database_is_reachable(client: TestClient) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok", "database": "ok"}
