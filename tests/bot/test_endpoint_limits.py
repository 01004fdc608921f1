"""``POST /api/messages`` under abuse (issue 11): sizes refused before the body is read, the caller
checked before the body is parsed, malformed tokens and activities refused with a 4xx, invokes
Relais does not handle answered, control characters answered with a polite card and stored
nowhere, and no token text in the logs."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from hub.settings import Settings
from relais.app import build_app
from relais.demo import DEMO_TENANT_ID
from storage.db import Sessions
from storage.models import BotState, ConversationRef
from tests.cards import assert_valid_card, cards_of, texts_of
from tests.fakes.activities import teams_message
from tests.fakes.channel import FakeChannelIssuer
from tests.fakes.connector import FakeBotConnector
from tests.fakes.fixtures import BOT_APP_ID

ADMIN = "a0000000-0000-4000-8000-000000000001"
COLLABORATOR_EN = "a0000000-0000-4000-8000-000000000004"
UNKNOWN = "f0000000-0000-4000-8000-00000000dead"
MAX_ACTIVITY = 256 * 1024
ANSWER_WITHIN = 10.0  # seconds: a bound on a wait that should end at once, not a sleep


@pytest.fixture
async def production(bot_settings: Settings, demo: object, aiohttp_client: Any) -> TestClient:
    """The app with Bot Framework authentication on (tokens from the fake channel issuer)."""
    return await aiohttp_client(build_app(bot_settings))


@pytest.fixture
async def demo_app(settings: Settings, demo: object, aiohttp_client: Any) -> TestClient:
    """The app in demo mode: no bot app id, anonymous activities accepted."""
    return await aiohttp_client(build_app(settings))


def message(connector: FakeBotConnector, text: str, **kw: Any) -> dict[str, Any]:
    kw.setdefault("user_aad_id", ADMIN)
    return teams_message(text, service_url=connector.url, tenant_id=DEMO_TENANT_ID, **kw)


def invoke(connector: FakeBotConnector, name: str, value: Any, **kw: Any) -> dict[str, Any]:
    activity = message(connector, "", **kw)
    del activity["text"]
    activity.update(type="invoke", name=name)
    if value is not None:
        activity["value"] = value
    return activity


def execute(verb: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"action": {"type": "Action.Execute", "verb": verb, "data": data}, "trigger": "manual"}


async def rows(sessions: Sessions, model: type) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def token(issuer: FakeChannelIssuer, connector: FakeBotConnector, **knobs: Any) -> str:
    return issuer.authorization(BOT_APP_ID, connector.url, **knobs)


def errors_with_traceback(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info]


async def raw_post(client: TestClient, headers: dict[str, str], body: bytes) -> bytes:
    """A POST written by hand on a socket, so the body can be shorter than it claims; the status
    line the server answers with (the connection is closed afterwards)."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    lines = [
        "POST /api/messages HTTP/1.1",
        f"Host: {client.server.host}:{client.server.port}",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    await writer.drain()
    try:
        return await asyncio.wait_for(reader.readline(), ANSWER_WITHIN)
    finally:
        writer.close()


# --------------------------------------------------------------------------- sizes


@pytest.mark.parametrize("authorization", ["none", "bad token"])
async def test_an_announced_oversized_body_is_refused_before_it_is_sent(
    authorization: str, production: TestClient, fake_bot_connector: FakeBotConnector
) -> None:
    """24 MB announced, a few bytes sent: the answer comes at once, without waiting for the
    rest (nothing is read, so nothing can be kept)."""
    headers = {"Content-Type": "application/json", "Content-Length": str(24 * 1024 * 1024)}
    if authorization == "bad token":
        headers["Authorization"] = "Bearer not.a.jwt"
    status_line = await raw_post(production, headers, b'{"type": "mess')
    assert status_line.split()[1] in (b"413", b"401"), status_line
    assert fake_bot_connector.calls.items == []


async def test_an_announced_oversized_body_is_refused_in_demo_mode_too(
    demo_app: TestClient,
) -> None:
    headers = {"Content-Type": "application/json", "Content-Length": str(MAX_ACTIVITY + 1)}
    status_line = await raw_post(demo_app, headers, b"{")
    assert status_line.split()[1] == b"413", status_line


async def test_a_chunked_body_past_the_bound_is_refused(
    demo_app: TestClient, fake_bot_connector: FakeBotConnector, sessions: Sessions
) -> None:
    """No length announced: the body is read up to the bound, and refused past it."""
    body = json.dumps(message(fake_bot_connector, "aide " + "x" * MAX_ACTIVITY)).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 16 * 1024):
            yield body[start : start + 16 * 1024]

    response = await demo_app.post(
        "/api/messages", data=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status == 413
    assert fake_bot_connector.calls.items == []
    assert await rows(sessions, ConversationRef) == 0


async def test_an_activity_under_the_bound_is_answered(
    demo_app: TestClient, fake_bot_connector: FakeBotConnector
) -> None:
    response = await demo_app.post(
        "/api/messages", json=message(fake_bot_connector, "x" * (MAX_ACTIVITY - 4096))
    )
    assert response.status in (200, 201)
    [reply] = await fake_bot_connector.await_sent(1)
    assert texts_of(cards_of(reply.body)[0])[0] == "Je n'ai pas compris"


# --------------------------------------------------------------------------- who is calling


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b"{this is not json"),
        ("text/plain", b"hello"),
        ("application/json", b"[]"),
    ],
)
async def test_an_anonymous_caller_is_refused_before_the_body_is_parsed(
    content_type: str, body: bytes, production: TestClient, fake_bot_connector: FakeBotConnector
) -> None:
    response = await production.post(
        "/api/messages", data=body, headers={"Content-Type": content_type}
    )
    assert response.status == 401
    assert fake_bot_connector.calls.items == []


async def test_a_channel_token_without_expiry_is_refused(
    production: TestClient,
    fake_channel_issuer: FakeChannelIssuer,
    fake_bot_connector: FakeBotConnector,
    sessions: Sessions,
) -> None:
    response = await production.post(
        "/api/messages",
        json=message(fake_bot_connector, "help"),
        headers={"Authorization": token(fake_channel_issuer, fake_bot_connector, omit=("exp",))},
    )
    assert response.status == 401
    assert fake_bot_connector.calls.items == []
    assert await rows(sessions, ConversationRef) == 0


@pytest.mark.parametrize("channel", ["missing", "", None])
async def test_an_activity_without_a_channel_is_refused(
    channel: str | None,
    production: TestClient,
    fake_channel_issuer: FakeChannelIssuer,
    fake_bot_connector: FakeBotConnector,
    sessions: Sessions,
) -> None:
    """Without a channel id the SDK skips the check that the signing key is endorsed for it."""
    activity = message(fake_bot_connector, "help")
    if channel == "missing":
        del activity["channelId"]
    else:
        activity["channelId"] = channel
    response = await production.post(
        "/api/messages",
        json=activity,
        headers={"Authorization": token(fake_channel_issuer, fake_bot_connector)},
    )
    assert response.status in (400, 401)
    assert fake_bot_connector.calls.items == []
    assert await rows(sessions, ConversationRef) == 0
    assert await rows(sessions, BotState) == 0


@pytest.mark.parametrize("length", [7_000, 9_000])
async def test_a_long_authorization_header_is_not_logged(
    length: int,
    production: TestClient,
    fake_channel_issuer: FakeChannelIssuer,
    fake_bot_connector: FakeBotConnector,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Under aiohttp's 8 KiB line limit the header reaches the bot's check; over it, aiohttp's
    parser refuses the request, and used to log its first 100 bytes."""
    caplog.set_level(logging.DEBUG)
    secret = token(fake_channel_issuer, fake_bot_connector).split(" ", 1)[1]
    header = "Bearer " + (secret * (length // len(secret) + 1))[:length]
    response = await production.post(
        "/api/messages", json=message(fake_bot_connector, "help"), headers={"Authorization": header}
    )
    assert response.status in (400, 401)
    logged = caplog.text
    assert all(secret[i : i + 24] not in logged for i in range(0, len(secret) - 24, 12))


# --------------------------------------------------------------------------- invokes


UNHANDLED_INVOKES = {
    "a name Relais does not know": ("relais/made-up", {"anything": 1}),
    "a message extension query": ("composeExtension/query", {"commandId": "x"}),
    "a task module": ("task/fetch", {"data": {}}),
    "a sign-in check": ("signin/verifyState", {"state": "123"}),
    "a file consent": ("fileConsent/invoke", {"action": "accept"}),
    "no name": (None, {}),
    "a card action without value": ("adaptiveCard/action", None),
    "a card action whose value is text": ("adaptiveCard/action", "Action.Execute"),
    "a card action of another type": (
        "adaptiveCard/action",
        {"action": {"type": "Action.Submit", "data": {}}},
    ),
    "a card action whose action is text": ("adaptiveCard/action", {"action": "Action.Execute"}),
}


@pytest.mark.parametrize("case", list(UNHANDLED_INVOKES))
async def test_an_invoke_relais_does_not_handle_gets_an_answer(
    case: str,
    demo_app: TestClient,
    fake_bot_connector: FakeBotConnector,
    caplog: pytest.LogCaptureFixture,
) -> None:
    name, value = UNHANDLED_INVOKES[case]
    activity = invoke(fake_bot_connector, name, value)
    if name is None:
        del activity["name"]
    response = await demo_app.post("/api/messages", json=activity)
    assert 200 <= response.status < 500, await response.text()
    body = await response.json()
    assert body["statusCode"] == response.status
    assert errors_with_traceback(caplog) == []


async def test_a_search_from_someone_unknown_finds_nothing(
    demo_app: TestClient, fake_bot_connector: FakeBotConnector
) -> None:
    value = {"queryText": "dos", "queryOptions": {"skip": 0, "top": 15}, "dataset": "dossiers"}
    response = await demo_app.post(
        "/api/messages",
        json=invoke(fake_bot_connector, "application/search", value, user_aad_id=UNKNOWN),
    )
    assert response.status == 200
    assert (await response.json())["value"]["results"] == []


# --------------------------------------------------------------------------- control characters


UNREADABLE = {"fr-FR": "Je ne peux pas lire ce message", "en-US": "I can't read this message"}


@pytest.mark.parametrize("locale", list(UNREADABLE))
@pytest.mark.parametrize(
    "where", ["text", "text with an escape", "user name", "submit data", "file name"]
)
async def test_control_characters_in_a_message_get_a_polite_card_and_nothing_is_stored(
    where: str,
    locale: str,
    demo_app: TestClient,
    fake_bot_connector: FakeBotConnector,
    sessions: Sessions,
    caplog: pytest.LogCaptureFixture,
) -> None:
    user = COLLABORATOR_EN if locale == "en-US" else ADMIN
    activity = message(fake_bot_connector, "aide", user_aad_id=user, locale=locale)
    if where == "text":
        activity["text"] = "aide\x00"
    elif where == "text with an escape":
        activity["text"] = "history \x1b[2J"
    elif where == "user name":
        activity["from"]["name"] = "Claire\x00Durand"
    elif where == "submit data":
        activity["value"] = {"relais": "place", "dossier": "DOS\x00001", "folder": "Achats"}
    else:
        activity["attachments"] = [
            {
                "contentType": "application/vnd.microsoft.teams.file.download.info",
                "name": "facture\x00.pdf",
                "content": {"downloadUrl": "http://127.0.0.1:9/never", "fileType": "pdf"},
            }
        ]
    response = await demo_app.post("/api/messages", json=activity)
    assert response.status in (200, 201), await response.text()
    [reply] = await fake_bot_connector.await_sent(1)
    [card] = cards_of(reply.body)
    assert_valid_card(card)
    assert texts_of(card)[0] == UNREADABLE[locale]
    assert await rows(sessions, ConversationRef) == 0
    assert await rows(sessions, BotState) == 0
    assert errors_with_traceback(caplog) == []


async def test_control_characters_in_a_card_action_get_the_polite_card_in_place(
    demo_app: TestClient, fake_bot_connector: FakeBotConnector, sessions: Sessions
) -> None:
    activity = invoke(
        fake_bot_connector, "adaptiveCard/action", execute("propose.contacts", {"dossier": "\x00"})
    )
    response = await demo_app.post("/api/messages", json=activity)
    assert response.status == 200
    body = await response.json()
    assert texts_of(body["value"])[0] == UNREADABLE["fr-FR"]
    assert fake_bot_connector.calls.items == []
    assert await rows(sessions, ConversationRef) == 0


async def test_control_characters_in_a_typeahead_find_nothing(
    demo_app: TestClient, fake_bot_connector: FakeBotConnector, sessions: Sessions
) -> None:
    value = {"queryText": "\x00", "queryOptions": {"skip": 0, "top": 15}, "dataset": "dossiers"}
    response = await demo_app.post(
        "/api/messages", json=invoke(fake_bot_connector, "application/search", value)
    )
    assert response.status == 200
    assert (await response.json())["value"]["results"] == []
    assert await rows(sessions, ConversationRef) == 0


@pytest.mark.parametrize("skip", [2**70, 1e308, "NaN", -5, None])
async def test_a_typeahead_with_an_odd_page_is_answered(
    skip: Any, demo_app: TestClient, fake_bot_connector: FakeBotConnector
) -> None:
    value = {"queryText": "", "queryOptions": {"skip": skip, "top": skip}, "dataset": "dossiers"}
    response = await demo_app.post(
        "/api/messages", json=invoke(fake_bot_connector, "application/search", value)
    )
    assert response.status == 200
    assert isinstance((await response.json())["value"]["results"], list)


@pytest.mark.parametrize("field", ["attachments", "entities", "membersAdded"])
async def test_a_list_holding_a_null_is_refused(
    field: str, demo_app: TestClient, fake_bot_connector: FakeBotConnector
) -> None:
    activity = message(fake_bot_connector, "aide")
    activity[field] = [None]
    response = await demo_app.post("/api/messages", json=activity)
    assert response.status == 400
    assert fake_bot_connector.calls.items == []


@pytest.mark.parametrize("verb", [{"place": 1}, ["documents.place"], 7, None])
async def test_a_submit_whose_verb_is_not_text_is_answered_with_a_card(
    verb: Any,
    demo_app: TestClient,
    fake_bot_connector: FakeBotConnector,
    caplog: pytest.LogCaptureFixture,
) -> None:
    activity = message(fake_bot_connector, "", value={"relais": verb, "dossier": "DOS001"})
    response = await demo_app.post("/api/messages", json=activity)
    assert response.status in (200, 201)
    assert errors_with_traceback(caplog) == []
