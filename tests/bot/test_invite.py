"""``invite`` / ``inviter`` through the real CloudAdapter: the form, then the same card answering
(``adaptiveCard/action`` invoke responses), against the fake Entra + Graph, on both databases.

The :class:`Teams` harness here is shared by ``test_propose.py`` and ``test_offers.py``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from hub.settings import Settings
from relais.app import build_app
from relais.demo import DEMO_TENANT_ID, DemoInfo
from storage.db import Sessions
from storage.models import AuditEvent, Contact, ContactDossier, Dossier, Invitation
from tests.cards import assert_valid_card, cards_of, texts_of
from tests.fakes.activities import teams_message
from tests.fakes.channel import FakeChannelIssuer
from tests.fakes.connector import FakeBotConnector
from tests.fakes.entra import FakeEntra
from tests.fakes.fixtures import BOT_APP_ID
from tests.hub.graph_arrange import entra_settings, set_consent
from tests.hub.test_portfolio import Scene, make_scene

__all__ = ["entra_settings"]

SOPHIE = "a0000000-0000-4000-8000-000000000003"  # master of ZZT001 (French)
JAMES = "a0000000-0000-4000-8000-000000000004"  # engagement manager of ZZT001 (English)
PAUL = "a0000000-0000-4000-8000-0000000000ff"  # a collaborator with no right on ZZT001
GAELLE = "c0000000-0000-4000-8000-0000000000aa"  # ZZT001's guest contact
CARD_TYPE = "application/vnd.microsoft.card.adaptive"


# --------------------------------------------------------------------------- the harness


def assert_teams_card(card: dict[str, Any]) -> None:
    """Adaptive Cards 1.5, Teams' own extensions aside: ``msteams`` and the typeahead's
    ``choices.data`` (a ``Data.Query``) on a ChoiceSet, which must keep static choices too."""
    plain = copy.deepcopy(card)

    def strip(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "Input.ChoiceSet" and "choices.data" in node:
                query = node.pop("choices.data")
                assert query["type"] == "Data.Query" and query["dataset"]
                assert node["choices"], "a typeahead keeps a few static choices"
            for value in node.values():
                strip(value)
        elif isinstance(node, list):
            for item in node:
                strip(item)

    strip(plain)
    assert_valid_card(plain)


def actions_of(card: dict[str, Any]) -> list[dict[str, Any]]:
    """Every Action.Execute on the card (in the actions bar and in the body), each checked to
    fall back to an Action.Submit carrying the same verb."""
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "Action.Execute":
                fallback = node["fallback"]
                assert fallback["type"] == "Action.Submit"
                assert fallback["data"]["relais"] == node["verb"]
                found.append(node)
            for key, value in node.items():
                if key != "fallback":
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card)
    return found


def verb(card: dict[str, Any], name: str) -> dict[str, Any]:
    return next(a for a in actions_of(card) if a["verb"] == name)


@dataclass
class Teams:
    """Posts Teams-shaped activities to ``/api/messages`` and returns the cards that come back."""

    client: TestClient
    connector: FakeBotConnector
    issuer: FakeChannelIssuer | None = None

    async def post(self, activity: dict[str, Any]) -> tuple[int, Any]:
        headers = (
            {"Authorization": self.issuer.authorization(BOT_APP_ID, self.connector.url)}
            if self.issuer
            else {}
        )
        response = await self.client.post("/api/messages", json=activity, headers=headers)
        assert response.status in (200, 201), await response.text()
        body = await response.json() if response.status == 200 else None
        return response.status, body

    def activity(self, text: str, *, user: str, locale: str, **kw: Any) -> dict[str, Any]:
        return teams_message(
            text,
            service_url=self.connector.url,
            tenant_id=DEMO_TENANT_ID,
            user_aad_id=user,
            locale=locale,
            **kw,
        )

    async def say(self, text: str, *, user: str, locale: str = "fr-FR") -> dict[str, Any]:
        """A typed command; the one card the bot answers with at the connector."""
        before = len(self.connector.sent)
        await self.post(self.activity(text, user=user, locale=locale))
        replies = (await self.connector.await_sent(before + 1))[before:]
        assert len(replies) == 1
        (card,) = cards_of(replies[0].body)
        assert_teams_card(card)
        return card

    async def act(
        self,
        name: str,
        data: dict[str, Any],
        *,
        user: str,
        locale: str = "fr-FR",
        trigger: str = "manual",
    ) -> dict[str, Any]:
        """An ``Action.Execute``: the card that replaces the one clicked (the invoke response)."""
        activity = self.activity("", user=user, locale=locale)
        activity.update(
            type="invoke",
            name="adaptiveCard/action",
            value={
                "action": {"type": "Action.Execute", "verb": name, "data": data},
                "trigger": trigger,
            },
        )
        del activity["text"]
        status, body = await self.post(activity)
        assert status == 200
        assert body["statusCode"] == 200 and body["type"] == CARD_TYPE
        assert_teams_card(body["value"])
        return body["value"]

    async def click(
        self,
        card: dict[str, Any],
        name: str,
        inputs: dict[str, Any] | None = None,
        *,
        user: str,
        locale: str = "fr-FR",
    ) -> dict[str, Any]:
        """Press the card's button ``name`` with these inputs, as Teams merges them."""
        data = {**verb(card, name)["data"], **(inputs or {})}
        return await self.act(name, data, user=user, locale=locale)

    async def refresh(
        self, card: dict[str, Any], *, user: str, locale: str = "fr-FR"
    ) -> dict[str, Any]:
        """Teams shows the card again and runs its ``refresh`` action itself (trigger
        automatic)."""
        action = card["refresh"]["action"]
        return await self.act(
            action["verb"], action["data"], user=user, locale=locale, trigger="automatic"
        )

    async def search(
        self, dataset: str, text: str, *, user: str, locale: str = "fr-FR"
    ) -> list[dict[str, str]]:
        activity = self.activity("", user=user, locale=locale)
        activity.update(
            type="invoke",
            name="application/search",
            value={
                "queryText": text,
                "queryOptions": {"skip": 0, "top": 15},
                "dataset": dataset,
            },
        )
        del activity["text"]
        status, body = await self.post(activity)
        assert status == 200
        assert body["type"] == "application/vnd.microsoft.search.searchResponse"
        return list(body["value"]["results"])


@pytest.fixture
async def scene(sessions: Sessions, demo: DemoInfo) -> Scene:
    return await make_scene(sessions, demo)


@pytest.fixture
async def teams(
    entra_settings: Settings,
    scene: Scene,
    aiohttp_client: Any,
    fake_bot_connector: FakeBotConnector,
) -> Teams:
    """The app in demo mode (no bot authentication), Graph at the fake Entra."""
    return Teams(await aiohttp_client(build_app(entra_settings)), fake_bot_connector)


@pytest.fixture
async def consented(sessions: Sessions, fake_entra: FakeEntra, demo: DemoInfo) -> None:
    await set_consent(sessions, fake_entra, demo.firm_id, DEMO_TENANT_ID)


NEW = {"first_name": "Léa", "last_name": "Petit", "email": "lea.petit@zzt.fr", "dossier": "ZZT001"}


async def _contact(sessions: Sessions, email: str) -> Contact | None:
    async with sessions() as session:
        result: Contact | None = await session.scalar(select(Contact).where(Contact.email == email))
        return result


async def _count(sessions: Sessions, model: type) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def _invitations_sent(fake_entra: FakeEntra) -> list[Any]:
    return [c for c in fake_entra.graph_calls.items if c.path == "/v1.0/invitations"]


# --------------------------------------------------------------------------- the tests


async def test_inviter_in_french_invites_the_contact_and_checks_again(
    teams: Teams, sessions: Sessions, fake_entra: FakeEntra, consented: None
) -> None:
    form = await teams.say("inviter", user=SOPHIE)
    texts = texts_of(form)
    assert texts[0] == "Inviter un interlocuteur"
    dossier = next(b for b in form["body"] if b.get("id") == "dossier")
    assert dossier["choices.data"] == {"type": "Data.Query", "dataset": "dossiers"}
    assert "ZZT001" in [c["value"] for c in dossier["choices"]]

    card = await teams.click(form, "invite.send", NEW, user=SOPHIE)
    texts = texts_of(card)
    assert texts[0] == "Invitation envoyée à Léa Petit"
    assert "Invitation en attente" in texts
    redeem = next(a for a in card["actions"] if a["type"] == "Action.OpenUrl")
    assert redeem["title"] == "Lien d'acceptation" and redeem["url"].startswith(fake_entra.url)
    (call,) = _invitations_sent(fake_entra)
    assert call.body["invitedUserEmailAddress"] == "lea.petit@zzt.fr"
    assert call.body["invitedUserMessageInfo"]["messageLanguage"] == "fr-FR"

    contact = await _contact(sessions, "lea.petit@zzt.fr")
    assert contact is not None and contact.guest_state == "invited"
    async with sessions() as session:
        linked = await session.scalar(
            select(Dossier.code)
            .join(ContactDossier, ContactDossier.dossier_id == Dossier.id)
            .where(ContactDossier.contact_id == contact.id)
        )
        actions = list(
            await session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.target_id == str(contact.id))
                .order_by(AuditEvent.id)
            )
        )
    assert linked == "ZZT001"
    assert actions == ["contact.created", "contact.dossier_linked", "invitation.sent"]

    # Still pending when checked; accepted once Léa redeems it.
    again = await teams.click(card, "invite.check", user=SOPHIE)
    assert texts_of(again)[0] == "Toujours en attente de Léa Petit"
    fake_entra.accept_invitation(DEMO_TENANT_ID, "lea.petit@zzt.fr")
    done = await teams.click(again, "invite.check", user=SOPHIE)
    assert texts_of(done)[0] == "Invitation acceptée par Léa Petit"
    assert "Dans l'espace Microsoft du cabinet" in texts_of(done)
    assert verb(done, "propose.apps")["data"]["dossier"] == "ZZT001"


async def test_invite_without_consent_says_how_to_grant_it_in_english(
    teams: Teams, sessions: Sessions, fake_entra: FakeEntra
) -> None:
    form = await teams.say("invite", user=JAMES, locale="en-US")
    assert texts_of(form)[0] == "Invite a client contact"
    card = await teams.click(form, "invite.send", NEW, user=JAMES, locale="en-US")
    texts = texts_of(card)
    assert texts[0] == "Consent needed first"
    assert texts[1] == (
        "Léa Petit cannot be invited to the firm's Microsoft 365 yet: Relais has not received an "
        "administrator's consent there. An administrator must grant consent first: "
        "http://127.0.0.1:3978/admin/tenant"
    )
    link = next(a for a in card["actions"] if a["type"] == "Action.OpenUrl")
    assert link == {
        "type": "Action.OpenUrl",
        "title": "Go to the Microsoft 365 page",
        "url": "http://127.0.0.1:3978/admin/tenant",
    }
    assert verb(card, "invite.send")["data"] == NEW  # "try again" keeps what was typed
    assert _invitations_sent(fake_entra) == []
    assert await _count(sessions, Invitation) == 0


@pytest.mark.parametrize(
    ("locale", "message"),
    [
        (
            "fr-FR",
            "Cette adresse e-mail (« lea@@zzt ») n'est pas valide : corrigez-la avant d'inviter. "
            "Aucune invitation n'a été envoyée.",
        ),
        (
            "en-US",
            "This email address (“lea@@zzt”) is not valid: correct it before inviting. "
            "No invitation was sent.",
        ),
    ],
)
async def test_an_invalid_email_is_shown_under_the_field_with_the_values_kept(
    teams: Teams,
    sessions: Sessions,
    fake_entra: FakeEntra,
    consented: None,
    locale: str,
    message: str,
) -> None:
    form = await teams.say("invite", user=SOPHIE, locale=locale)
    card = await teams.click(
        form, "invite.send", {**NEW, "email": "lea@@zzt"}, user=SOPHIE, locale=locale
    )
    body = card["body"]
    email = next(i for i, b in enumerate(body) if b.get("id") == "email")
    assert body[email]["value"] == "lea@@zzt"
    assert body[email + 1]["text"] == message and body[email + 1]["color"] == "Attention"
    assert next(b for b in body if b.get("id") == "first_name")["value"] == "Léa"
    assert next(b for b in body if b.get("id") == "dossier")["value"] == "ZZT001"
    assert await _contact(sessions, "lea@@zzt") is None
    assert fake_entra.graph_calls.items == []


async def test_a_missing_name_is_asked_again(teams: Teams, consented: None) -> None:
    form = await teams.say("invite", user=SOPHIE, locale="en-US")
    card = await teams.click(
        form, "invite.send", {**NEW, "last_name": "  "}, user=SOPHIE, locale="en-US"
    )
    body = card["body"]
    last = next(i for i, b in enumerate(body) if b.get("id") == "last_name")
    assert body[last + 1]["text"] == "Enter the last name."


async def test_a_contact_already_guest_on_the_tenant_is_recognised(
    teams: Teams, sessions: Sessions, fake_entra: FakeEntra, consented: None
) -> None:
    fake_entra.add_user(
        DEMO_TENANT_ID, "d0000000-0000-4000-8000-000000000001", "Léa Petit", NEW["email"],
        user_type="Guest",
    )  # fmt: skip
    fake_entra.accept_invitation(DEMO_TENANT_ID, NEW["email"])
    form = await teams.say("inviter", user=SOPHIE)
    card = await teams.click(form, "invite.send", NEW, user=SOPHIE)
    assert texts_of(card)[0] == "Invitation déjà acceptée par Léa Petit"
    assert "Dans l'espace Microsoft du cabinet" in texts_of(card)
    assert _invitations_sent(fake_entra) == []
    contact = await _contact(sessions, NEW["email"])
    assert contact is not None and contact.guest_state == "guest"
    assert contact.entra_object_id == "d0000000-0000-4000-8000-000000000001"


async def test_a_collaborator_without_rights_on_the_dossier_is_refused_with_the_reason(
    teams: Teams, sessions: Sessions, fake_entra: FakeEntra, consented: None
) -> None:
    form = await teams.say("inviter", user=PAUL)
    # Paul is master or engagement manager of no dossier: there is nothing to invite for.
    assert texts_of(form) == [
        "Je ne peux pas faire cela",
        "Vous n'êtes ni maître ni responsable de mission d'aucun dossier : vous ne pouvez rien "
        "proposer ni inviter. Demandez à un administrateur ou à un gestionnaire des droits.",
    ]
    # A crafted answer naming ZZT001 is refused by hub, with the reason.
    card = await teams.act("invite.send", NEW, user=PAUL)
    assert texts_of(card) == [
        "Je ne peux pas faire cela",
        "Vous ne pouvez pas proposer de services pour le dossier ZZT001 : seuls les "
        "administrateurs, les membres du groupe des gestionnaires des droits, le maître du "
        "dossier et le responsable de mission le peuvent.",
    ]
    assert await _contact(sessions, NEW["email"]) is None
    assert fake_entra.graph_calls.items == []


async def test_contacts_cannot_use_invite(teams: Teams) -> None:
    card = await teams.say("invite", user=GAELLE, locale="en-US")
    assert texts_of(card)[0] == "I did not understand"
    refused = await teams.act("invite.send", NEW, user=GAELLE, locale="en-US")
    assert texts_of(refused) == ["I can't do that", "Only the firm's staff can do this."]


async def test_an_older_client_submits_and_the_card_is_updated_in_place(
    teams: Teams, sessions: Sessions, fake_bot_connector: FakeBotConnector, consented: None
) -> None:
    """Without Universal Actions, Teams sends the Action.Submit fallback as a message whose
    ``replyToId`` is the card's; the bot replaces that message."""
    form = await teams.say("invite", user=SOPHIE, locale="en-US")
    fallback = verb(form, "invite.send")["fallback"]
    activity = teams.activity(
        "", user=SOPHIE, locale="en-US", value={**fallback["data"], **NEW, "email": "bad"}
    )
    activity["replyToId"] = "fake-activity-1"
    await teams.post(activity)
    (update,) = await fake_bot_connector.calls.await_for(1, where=lambda c: c.kind == "update")
    assert update.activity_id == "fake-activity-1"
    (card,) = [a["content"] for a in update.body["attachments"]]
    assert_teams_card(card)
    assert "This email address (“bad”) is not valid" in " ".join(texts_of(card))


async def test_typeahead_finds_only_the_dossiers_of_the_actors_firm_and_rights(
    teams: Teams, sessions: Sessions, demo: DemoInfo
) -> None:
    async with sessions() as session, session.begin():
        session.add(Dossier(firm_id=demo.firm_id, code="ZZT002", name="Test Autre SARL"))
    # Sophie is master of ZZT001 only among ZZT…; Claire (administrator) sees both.
    found = await teams.search("dossiers", "zzt", user=SOPHIE)
    assert found == [{"value": "ZZT001", "title": "ZZT001 — Test Portefeuille SARL"}]
    claire = "a0000000-0000-4000-8000-000000000001"
    found = await teams.search("dossiers", "ZZT", user=claire)
    assert [r["value"] for r in found] == ["ZZT001", "ZZT002"]
    assert await teams.search("dossiers", "portefeuille", user=PAUL) == []
    assert await teams.search("dossiers", "zzt", user=GAELLE) == []  # contacts find nothing
    assert await teams.search("unknown", "zzt", user=SOPHIE) == []
