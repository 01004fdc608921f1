"""A contact answers an offer in Teams (the card updated in place through the invoke response),
the proposing accountant is told proactively; second answers and other people are refused; and
the proactive sender's rate limiter, with an injected clock. Both databases."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from bot.proactive import RateLimiter
from storage.db import Sessions
from storage.models import AuditEvent, Connection, ContactAccess
from tests.bot.test_invite import GAELLE, JAMES, SOPHIE, Teams, assert_teams_card, scene
from tests.bot.test_propose import teams, teams_settings, to_step3_for
from tests.cards import cards_of, texts_of
from tests.fakes.activities import personal_conversation_id
from tests.fakes.connector import FakeBotConnector
from tests.hub.test_portfolio import Scene

__all__ = ["scene", "teams", "teams_settings"]

OTHER_GUEST = "c0000000-0000-4000-8000-000000000001"  # a demo contact of another dossier


async def offer_start(
    teams: Teams, scene: Scene, *, by: str, locale: str
) -> tuple[dict[str, Any], int]:
    """``by`` proposes Start to Gaëlle, who wrote to the bot before; her card and the offer id."""
    await teams.say("aide", user=GAELLE)
    await teams.say("aide" if locale == "fr-FR" else "help", user=by, locale=locale)
    step3 = await to_step3_for(teams, scene, user=by, locale=locale)
    await teams.click(
        step3, "propose.send", {f"app_{scene.apps['start']}": "true"}, user=by, locale=locale
    )
    conversation = personal_conversation_id(GAELLE)
    sent = [c for c in teams.connector.sent if c.conversation_id == conversation]
    (card,) = cards_of(sent[-1].body)
    assert_teams_card(card)
    return card, int(card["actions"][0]["data"]["access"])


async def told(connector: FakeBotConnector, user: str, before: int) -> dict[str, Any]:
    """The card the bot sent proactively to ``user``'s personal chat after ``before`` sends."""
    conversation = personal_conversation_id(user)
    calls = await connector.await_sent(before + 1, conversation_id=conversation)
    (card,) = cards_of(calls[-1].body)
    assert_teams_card(card)
    return card


def sent_to(connector: FakeBotConnector, user: str) -> int:
    return len([c for c in connector.sent if c.conversation_id == personal_conversation_id(user)])


async def test_accepting_updates_the_card_records_the_access_and_tells_the_accountant(
    teams: Teams, scene: Scene, sessions: Sessions
) -> None:
    card, access_id = await offer_start(teams, scene, by=SOPHIE, locale="fr-FR")
    assert texts_of(card)[:2] == [
        "Start",
        "Sophie Martin (Cabinet Durand & Associés) vous propose cette application :",
    ]
    before = sent_to(teams.connector, SOPHIE)
    answered = await teams.click(card, "offer.accept", user=GAELLE)
    assert texts_of(answered)[:2] == [
        "Vous avez accepté Start",
        "Merci : Sophie Martin est prévenu(e), et l'accès est enregistré.",
    ]
    assert "actions" not in answered  # answered: no buttons any more
    note = await told(teams.connector, SOPHIE, before)
    assert texts_of(note) == [
        "Gaëlle Invitée a accepté Start pour le dossier ZZT001",
        "L'application est maintenant activée pour ZZT001.",
    ]
    async with sessions() as session:
        access = await session.get(ContactAccess, access_id)
        connection = await session.scalar(
            select(Connection).where(Connection.firm_application_id == scene.apps["start"])
        )
        event = await session.scalar(
            select(AuditEvent).where(AuditEvent.action == "offer.accepted")
        )
    assert access is not None and access.state == "accepted" and access.answered_at
    assert connection is not None and connection.active
    assert event is not None and event.actor == f"contact:{scene.guest}"

    # A second answer is refused, and nothing changes.
    again = await teams.click(card, "offer.decline", user=GAELLE)
    assert texts_of(again) == [
        "Je ne peux pas faire cela",
        "Vous avez déjà accepté Start pour le dossier ZZT001 : rien n'a changé.",
    ]
    async with sessions() as session:
        access = await session.get(ContactAccess, access_id)
    assert access is not None and access.state == "accepted"


async def test_declining_in_english_tells_the_accountant_in_theirs(
    teams: Teams, scene: Scene, sessions: Sessions
) -> None:
    _card, access_id = await offer_start(teams, scene, by=JAMES, locale="en-US")
    before = sent_to(teams.connector, JAMES)
    answered = await teams.act("offer.decline", {"access": access_id}, user=GAELLE, locale="en-US")
    assert texts_of(answered)[:2] == [
        "You declined Start",
        "Understood: James Walker has been told.",
    ]
    note = await told(teams.connector, JAMES, before)
    assert texts_of(note)[0] == "Gaëlle Invitée declined Start for dossier ZZT001"
    async with sessions() as session:
        access = await session.get(ContactAccess, access_id)
        connection = await session.scalar(
            select(Connection).where(Connection.firm_application_id == scene.apps["start"])
        )
    assert access is not None and access.state == "declined"
    assert connection is not None and not connection.active
    again = await teams.act("offer.accept", {"access": access_id}, user=GAELLE, locale="en-US")
    assert texts_of(again)[1] == "You already declined Start for dossier ZZT001: nothing changed."


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        (
            OTHER_GUEST,
            "Cette offre a été faite à quelqu'un d'autre : seule cette personne peut y répondre.",
        ),
        (
            SOPHIE,
            "Cette offre a été faite à quelqu'un d'autre : seule cette personne peut y répondre.",
        ),
    ],
)
async def test_nobody_else_answers_an_offer(
    teams: Teams, scene: Scene, sessions: Sessions, user: str, expected: str
) -> None:
    _card, access_id = await offer_start(teams, scene, by=SOPHIE, locale="fr-FR")
    refused = await teams.act("offer.accept", {"access": access_id}, user=user)
    assert texts_of(refused) == ["Je ne peux pas faire cela", expected]
    async with sessions() as session:
        access = await session.get(ContactAccess, access_id)
    assert access is not None and access.state == "offered"


async def test_an_unknown_offer_is_refused(teams: Teams, scene: Scene) -> None:
    refused = await teams.act("offer.accept", {"access": 999999}, user=GAELLE, locale="en-US")
    assert texts_of(refused) == [
        "I can't do that",
        "This offer does not exist, or no longer exists.",
    ]


# --------------------------------------------------------------------------- the rate limiter


class Clock:
    """Time that moves only when the limiter sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


async def test_at_most_the_documented_rate_per_conversation() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    stamps = []
    for _ in range(70):
        await limiter.acquire("a:one")
        stamps.append(clock.now)
    assert stamps[:7] == [1000.0] * 7  # a burst of 7 goes at once
    assert stamps[7] == 1001.0  # the 8th waits for the next second
    for i, start in enumerate(stamps):
        assert len([s for s in stamps[i:] if s < start + 1]) <= 7
        assert len([s for s in stamps[i:] if s < start + 2]) <= 8
        assert len([s for s in stamps[i:] if s < start + 30]) <= 60
    # Another conversation is not held up by the first one.
    before = clock.now
    await limiter.acquire("a:two")
    assert clock.now == before


async def test_the_global_cap_holds_across_conversations() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep, global_limits=((1.0, 10),))
    for i in range(15):
        await limiter.acquire(f"a:{i}")
    assert clock.sleeps == [1.0]  # ten in the first second, the other five in the next


async def test_the_offer_card_refreshes_to_the_offer_as_it_stands(
    teams: Teams, scene: Scene, sessions: Sessions
) -> None:
    card, access_id = await offer_start(teams, scene, by=SOPHIE, locale="fr-FR")
    # Gaëlle talked to the bot first: her Teams id, and her tenant-wide one.
    gaelle_mri = teams.activity("", user=GAELLE, locale="fr-FR")["from"]["id"]
    assert card["refresh"] == {
        "action": {
            "type": "Action.Execute",
            "verb": "offer.refresh",
            "data": {"access": access_id},
            "fallback": {
                "type": "Action.Submit",
                "data": {"relais": "offer.refresh", "access": access_id},
            },
        },
        "userIds": [gaelle_mri, f"8:orgid:{GAELLE}"],
    }
    pending = await teams.refresh(card, user=GAELLE)
    assert texts_of(pending)[:2] == texts_of(card)[:2]
    assert [a["verb"] for a in pending["actions"]] == ["offer.accept", "offer.decline"]

    # Declined elsewhere (another device): the card shown here follows.
    await teams.act("offer.decline", {"access": access_id}, user=GAELLE)
    declined = await teams.refresh(card, user=GAELLE)
    assert texts_of(declined)[:2] == [
        "Vous avez refusé Start",
        "C'est noté : Sophie Martin est prévenu(e).",
    ]
    assert "actions" not in declined and declined["refresh"]["userIds"][0] == gaelle_mri
