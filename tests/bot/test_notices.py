"""Failed-send notices in Teams, through the real CloudAdapter (authentication on) and the fake Bot
Connector: a burst of failures makes one card per dossier master in their language, never twice;
"off" and "daily" are honoured; Teams unreachable loses nothing; the Retry button sends the shown
failures again. Rounds run at the time each test chooses (no background round, no waiting)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.cards.failures import RETRY
from bot.endpoint import NOTICES, SERVICES
from bot.notices import NoticeDispatcher
from hub.notices import QUIET, set_failure_notices
from hub.services import Hub
from hub.settings import Settings
from relais.app import build_app
from relais.demo import DemoInfo
from storage.models import Delivery
from tests.bot.test_invite import Teams, actions_of, assert_teams_card
from tests.bot.test_offers import sent_to
from tests.cards import cards_of, texts_of
from tests.fakes.activities import personal_conversation_id
from tests.fakes.channel import FakeChannelIssuer
from tests.fakes.connector import FakeBotConnector
from tests.hub.graph_arrange import Sleeps
from tests.hub.test_history import Scene, arrange_scene
from tests.hub.test_notices import fail_burst

SOPHIE = "a0000000-0000-4000-8000-000000000003"  # French; master of scene.sophie_code
JAMES = "a0000000-0000-4000-8000-000000000004"  # English; master of scene.james_code
CLAIRE = "a0000000-0000-4000-8000-000000000001"  # master of scene.contact_code
PARIS = ZoneInfo("Europe/Paris")
DASHBOARD = "http://127.0.0.1:3978/admin/dashboard"


@pytest.fixture
async def scene(hub: Hub, demo: DemoInfo) -> Scene:
    """Sophie's dossier: a burst of 30 files too large for the OCR, on top of the history scene's
    three failures (one per master: Sophie, James, Claire)."""
    scene = await arrange_scene(hub, demo)
    await fail_burst(hub, scene, scene.sophie_code, 30, "too_large")
    return scene


@pytest.fixture
async def teams(
    bot_settings: Settings,
    scene: Scene,
    aiohttp_client: Any,
    fake_bot_connector: FakeBotConnector,
    fake_channel_issuer: FakeChannelIssuer,
) -> Teams:
    # An hour between background rounds: in a test, only the rounds the test runs happen.
    settings = bot_settings.model_copy(update={"notice_interval_seconds": 3600})
    client = await aiohttp_client(build_app(settings))
    return Teams(client, fake_bot_connector, fake_channel_issuer)


def dispatcher(teams: Teams) -> NoticeDispatcher:
    return teams.client.server.app[NOTICES]


def quiet_sender(teams: Teams) -> Sleeps:
    """The proactive sender's backoff recorded instead of waited for."""
    sleeps = Sleeps()
    sender = teams.client.server.app[SERVICES].sender
    assert sender is not None
    sender.sleep = sleeps
    sender.limiter.sleep = sleeps
    return sleeps


def cards_to(connector: FakeBotConnector, user: str, before: int) -> list[dict[str, Any]]:
    """The cards sent to ``user``'s personal chat after the first ``before``, each validated."""
    conversation = personal_conversation_id(user)
    calls = [c for c in connector.sent if c.conversation_id == conversation][before:]
    found = [card for call in calls for card in cards_of(call.body)]
    for card in found:
        assert_teams_card(card)
    return found


async def untold(hub: Hub) -> int:
    async with hub.sessions() as session:
        rows = await session.scalars(
            select(Delivery.id).where(Delivery.status == "failed", Delivery.notified_at.is_(None))
        )
        return len(list(rows))


def a_round() -> datetime:
    """A round once the burst is over (``QUIET`` after its last failure)."""
    return datetime.now(UTC) + 2 * QUIET


def paris_tomorrow(hour: int, minute: int = 0) -> datetime:
    day = (datetime.now(PARIS) + timedelta(days=1)).date()
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=PARIS).astimezone(UTC)


async def test_a_burst_of_failures_makes_one_card_per_master_in_their_language(
    teams: Teams, scene: Scene, hub: Hub
) -> None:
    await teams.say("aide", user=SOPHIE)
    await teams.say("help", user=JAMES, locale="en-US")
    sophie, james = sent_to(teams.connector, SOPHIE), sent_to(teams.connector, JAMES)

    report = await dispatcher(teams).run_once(a_round())
    assert (report.sent, report.told, report.waiting) == (2, 32, 1)  # Claire never wrote

    (card,) = cards_to(teams.connector, SOPHIE, sophie)
    texts = texts_of(card)
    assert texts[:2] == [
        "31 documents n'ont pas pu être envoyés",
        "Ces envois ont définitivement échoué dans les dossiers dont vous êtes maître. Une fois "
        "la cause corrigée, renvoyez-les.",
    ]
    assert texts[2:5] == [
        f"releve-{scene.sophie_code}-029.pdf",
        texts[3],
        "Fichier trop volumineux",
    ]
    assert texts[3].startswith(f"{scene.sophie_code} · ") and texts[3].endswith(
        " → OCR Factures — Achats"
    )
    assert texts.count("Fichier trop volumineux") == 10
    assert "…et 21 autres : retrouvez-les tous dans le tableau de bord." in texts
    (retry,) = actions_of(card)
    assert retry["verb"] == RETRY == "failures.retry" and retry["title"] == "Renvoyer ces 10"
    assert len(retry["data"]["ids"]) == 10
    (link,) = [a for a in card["actions"] if a["type"] == "Action.OpenUrl"]
    assert (link["title"], link["url"]) == ("Voir les envois en échec", DASHBOARD)

    (card,) = cards_to(teams.connector, JAMES, james)
    texts = texts_of(card)
    assert texts[0] == "1 document could not be sent"
    assert "facture-0413.pdf" in texts and "File too large" in texts
    assert [a["title"] for a in actions_of(card)] == ["Retry"]

    # A second round has nothing new: nobody is told twice.
    before = len(teams.connector.sent)
    again = await dispatcher(teams).run_once(a_round())
    assert (again.sent, again.waiting) == (0, 1) and len(teams.connector.sent) == before

    # Claire is told once she has talked to the bot (her conversation is then known).
    await teams.say("aide", user=CLAIRE)
    claire = sent_to(teams.connector, CLAIRE)
    assert (await dispatcher(teams).run_once(a_round())).sent == 1
    (card,) = cards_to(teams.connector, CLAIRE, claire)
    assert texts_of(card)[0] == "1 document n'a pas pu être envoyé"
    assert "Format refusé" in texts_of(card)
    assert await untold(hub) == 0


async def test_retry_on_the_notice_queues_the_shown_failures_again(
    teams: Teams, scene: Scene, hub: Hub
) -> None:
    await teams.say("aide", user=SOPHIE)
    before = sent_to(teams.connector, SOPHIE)
    await dispatcher(teams).run_once(a_round())
    (card,) = cards_to(teams.connector, SOPHIE, before)
    ids = next(a for a in actions_of(card) if a["verb"] == RETRY)["data"]["ids"]
    await teams.click(card, RETRY, user=SOPHIE)
    async with hub.sessions() as session:
        statuses = set(await session.scalars(select(Delivery.status).where(Delivery.id.in_(ids))))
    assert statuses == {"pending"}


async def test_a_master_who_chose_off_gets_nothing(teams: Teams, scene: Scene, hub: Hub) -> None:
    await set_failure_notices(hub, scene.sophie, "off")
    await teams.say("aide", user=SOPHIE)
    await teams.say("help", user=JAMES, locale="en-US")
    sophie, james = sent_to(teams.connector, SOPHIE), sent_to(teams.connector, JAMES)
    report = await dispatcher(teams).run_once(a_round())
    assert report.sent == 1 and report.settled == 31
    assert cards_to(teams.connector, SOPHIE, sophie) == []
    assert len(cards_to(teams.connector, JAMES, james)) == 1
    # Switched off means settled, not postponed: switching back on tells nothing old.
    await set_failure_notices(hub, scene.sophie, "immediate")
    await dispatcher(teams).run_once(a_round())
    assert cards_to(teams.connector, SOPHIE, sophie) == []


async def test_daily_sends_one_digest_at_the_digest_hour_and_nothing_before(
    teams: Teams, scene: Scene, hub: Hub
) -> None:
    await set_failure_notices(hub, scene.james, "daily")
    await teams.say("help", user=JAMES, locale="en-US")
    james = sent_to(teams.connector, JAMES)
    notices = dispatcher(teams)
    await notices.run_once(paris_tomorrow(7, 30))
    assert cards_to(teams.connector, JAMES, james) == []
    await notices.run_once(paris_tomorrow(8, 0))
    (digest,) = cards_to(teams.connector, JAMES, james)
    assert texts_of(digest)[:2] == [
        "1 document could not be sent",
        "Your daily summary: sends that failed for good in the dossiers you are master of since "
        "the last one.",
    ]
    await notices.run_once(paris_tomorrow(8, 5))
    await notices.run_once(paris_tomorrow(23, 0))
    assert len(cards_to(teams.connector, JAMES, james)) == 1


async def test_teams_unreachable_loses_nothing_and_the_next_round_sends(
    teams: Teams, scene: Scene, hub: Hub
) -> None:
    await teams.say("aide", user=SOPHIE)  # James and Claire never wrote: only Sophie is sent to
    sophie = sent_to(teams.connector, SOPHIE)
    sleeps = quiet_sender(teams)
    for _ in range(4):  # every attempt the sender makes
        teams.connector.fail_next(503)
    report = await dispatcher(teams).run_once(a_round())
    assert (report.sent, report.unreachable) == (0, 1)
    assert len(sleeps.calls) == 3  # it backed off between its four attempts
    assert await untold(hub) == 33  # nothing marked told
    attempts = [
        c for c in teams.connector.sent if c.conversation_id == personal_conversation_id(SOPHIE)
    ][sophie:]
    assert len(attempts) == 4

    report = await dispatcher(teams).run_once(a_round())
    assert report.sent == 1
    delivered = cards_to(teams.connector, SOPHIE, sophie)
    assert texts_of(delivered[-1])[0] == "31 documents n'ont pas pu être envoyés"
    assert await untold(hub) == 2  # James's and Claire's, who never wrote to the bot


async def test_the_background_rounds_run_every_interval(teams: Teams, scene: Scene) -> None:
    await teams.say("aide", user=SOPHIE)
    sophie = sent_to(teams.connector, SOPHIE)
    notices = dispatcher(teams)
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 3:
            raise asyncio.CancelledError

    notices.sleep = sleep
    notices.clock = a_round
    with pytest.raises(asyncio.CancelledError):
        await notices.run_forever()
    assert waits == [3600, 3600, 3600]  # two rounds ran between the three pauses
    assert len(cards_to(teams.connector, SOPHIE, sophie)) == 1
