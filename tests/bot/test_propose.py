"""``propose`` / ``proposer`` through the real CloudAdapter with Bot Framework authentication on:
the three steps in one card, then the offers delivered proactively to the contact (through the
stored conversation, or after installing the bot through Graph and opening the chat), on both
databases."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select, update

from hub.settings import Settings
from relais.app import build_app
from relais.demo import DEMO_TENANT_ID, DemoInfo
from storage.db import Sessions
from storage.models import AuditEvent, Connection, ContactAccess, ConversationRef, Firm
from tests.bot.test_invite import (
    GAELLE,
    JAMES,
    PAUL,
    SOPHIE,
    Teams,
    assert_teams_card,
    scene,
    verb,
)
from tests.cards import cards_of, texts_of
from tests.fakes.activities import personal_conversation_id
from tests.fakes.channel import FakeChannelIssuer
from tests.fakes.connector import FakeBotConnector
from tests.fakes.entra import DEFAULT_GRAPH_ROLES, INSTALL_ROLE, FakeEntra
from tests.fakes.fixtures import BOT_APP_ID
from tests.hub.graph_arrange import CLIENT_ID, CLIENT_SECRET, Sleeps, set_consent
from tests.hub.test_portfolio import Scene

__all__ = ["scene"]

ROLES = (*DEFAULT_GRAPH_ROLES, INSTALL_ROLE)


@pytest.fixture
def teams_settings(bot_settings: Settings, fake_entra: FakeEntra) -> Settings:
    """Authentication on (the bot's app id is the Teams app's), Graph at the fake Entra."""
    fake_entra.add_client(CLIENT_ID, CLIENT_SECRET)
    return bot_settings.model_copy(
        update={"entra_client_id": CLIENT_ID, "entra_client_secret": SecretStr(CLIENT_SECRET)}
    )


@pytest.fixture
async def teams(
    teams_settings: Settings,
    scene: Scene,
    aiohttp_client: Any,
    fake_bot_connector: FakeBotConnector,
    fake_channel_issuer: FakeChannelIssuer,
    sessions: Sessions,
    fake_entra: FakeEntra,
    demo: DemoInfo,
) -> Teams:
    await set_consent(sessions, fake_entra, demo.firm_id, DEMO_TENANT_ID, ROLES)
    fake_entra.add_user(
        DEMO_TENANT_ID, GAELLE, "Gaëlle Invitée", "gaelle@zzt.fr", user_type="Guest"
    )
    fake_entra.accept_invitation(DEMO_TENANT_ID, "gaelle@zzt.fr")
    client = await aiohttp_client(build_app(teams_settings))
    return Teams(client, fake_bot_connector, fake_channel_issuer)


def sender_of(teams: Teams) -> Any:
    from bot.endpoint import SERVICES

    return teams.client.server.app[SERVICES].sender


async def accesses(sessions: Sessions) -> list[ContactAccess]:
    async with sessions() as session:
        return list(await session.scalars(select(ContactAccess).order_by(ContactAccess.id)))


# --------------------------------------------------------------------------- the steps


async def test_the_three_steps_in_french(teams: Teams, scene: Scene) -> None:
    step1 = await teams.say("proposer", user=SOPHIE)
    assert texts_of(step1)[:2] == [
        "Proposer un service",
        "Étape 1 sur 3 : quel dossier ? Tapez son code ou son nom.",
    ]
    step2 = await teams.click(step1, "propose.contacts", {"dossier": "ZZT001"}, user=SOPHIE)
    assert texts_of(step2)[0] == "Proposer un service — ZZT001"
    choice = next(b for b in step2["body"] if b.get("id") == "contact")
    assert choice["choices"] == [
        {"title": "Gaëlle Invitée (gaelle@zzt.fr)", "value": str(scene.guest)},
        {
            "title": "Aucun interlocuteur : activer des applications pour le dossier",
            "value": "none",
        },
    ]
    texts = texts_of(step2)
    assert "Ivan Enattente (ivan@zzt.fr)" in texts and "invitation pas encore acceptée" in texts
    assert (
        "Nina Neuve (n@zzt.fr)" in texts
        and "pas encore d'invitation dans l'espace Microsoft du cabinet" in texts
    )
    invites = [a for a in (verb(step2, "invite.open"),)]
    assert invites[0]["title"] == "Inviter d'abord"

    step3 = await teams.click(step2, "propose.apps", {"contact": str(scene.guest)}, user=SOPHIE)
    texts = texts_of(step3)
    assert texts[1] == (
        "Étape 3 sur 3 : les applications proposées à Gaëlle Invitée. Cochez celles à proposer."
    )
    toggles = [b["items"][0] for b in step3["body"] if b.get("type") == "Container"]
    assert [t["title"] for t in toggles] == ["Co-production", "Start"]  # only those for a contact
    assert "Le client saisit et valide ses écritures avec le cabinet, en co-production." in texts
    assert verb(step3, "propose.send")["title"] == "Envoyer les offres"


async def test_invite_first_opens_the_invite_form_filled_in(teams: Teams, scene: Scene) -> None:
    step1 = await teams.say("propose", user=JAMES, locale="en-US")
    step2 = await teams.click(
        step1, "propose.contacts", {"dossier": "ZZT001"}, user=JAMES, locale="en-US"
    )
    nina = next(a for a in step2["body"][-1]["items"][-1]["actions"] if a["verb"] == "invite.open")
    assert nina["data"]["email"] == "n@zzt.fr"
    form = await teams.act("invite.open", nina["data"], user=JAMES, locale="en-US")
    values = {b["id"]: b.get("value") for b in form["body"] if "id" in b}
    assert values == {
        "first_name": "Nina",
        "last_name": "Neuve",
        "email": "n@zzt.fr",
        "dossier": "ZZT001",
    }


async def test_nothing_ticked_asks_again(teams: Teams, scene: Scene) -> None:
    step3 = await to_step3_for(teams, scene)
    again = await teams.click(step3, "propose.send", user=SOPHIE)
    assert "Cochez au moins une application." in texts_of(again)


async def to_step3_for(
    teams: Teams, scene: Scene, *, user: str = SOPHIE, locale: str = "fr-FR"
) -> dict[str, Any]:
    step1 = await teams.say("proposer", user=user, locale=locale)
    step2 = await teams.click(
        step1, "propose.contacts", {"dossier": "ZZT001"}, user=user, locale=locale
    )
    return await teams.click(
        step2, "propose.apps", {"contact": str(scene.guest)}, user=user, locale=locale
    )


# --------------------------------------------------------------------------- sending


async def test_offers_reach_a_contact_never_met_after_installing_the_bot(
    teams: Teams,
    scene: Scene,
    sessions: Sessions,
    fake_entra: FakeEntra,
    fake_bot_connector: FakeBotConnector,
) -> None:
    step3 = await to_step3_for(teams, scene)
    start, copro = scene.apps["start"], scene.apps["coproduction"]
    summary = await teams.click(
        step3, "propose.send", {f"app_{start}": "true", f"app_{copro}": "true"}, user=SOPHIE
    )
    assert texts_of(summary) == [
        "C'est fait pour ZZT001",
        "Proposé à Gaëlle Invitée",
        "Start, Co-production",
        "Gaëlle Invitée a reçu les offres dans Teams. Je vous préviendrai de sa réponse.",
    ]
    # The bot was installed for Gaëlle through Graph, with the bot's id as the Teams app's.
    assert fake_entra.installed_apps == [(DEMO_TENANT_ID, GAELLE, BOT_APP_ID)]
    install = next(c for c in fake_entra.graph_calls.items if "installedApps" in c.path)
    assert install.path == f"/v1.0/users/{GAELLE}/teamwork/installedApps"
    assert install.body["teamsApp@odata.bind"].endswith(f"/appCatalogs/teamsApps/{BOT_APP_ID}")
    assert install.status == 201
    # Then the personal chat was created, once per offer (Teams answers the same 1:1 chat).
    created = [c for c in fake_bot_connector.calls.items if c.kind == "create_conversation"]
    assert created and created[0].body["members"][0]["aadObjectId"] == GAELLE
    assert created[0].body["channelData"]["tenant"]["id"] == DEMO_TENANT_ID
    assert created[0].authorization and created[0].authorization.startswith("Bearer ")
    sent = [
        c for c in fake_bot_connector.sent if c.conversation_id != personal_conversation_id(SOPHIE)
    ]
    assert len(sent) == 2
    for call in sent:
        (card,) = cards_of(call.body)
        assert_teams_card(card)
        assert texts_of(card)[1] == (
            "Sophie Martin (Cabinet Durand & Associés) vous propose cette application :"
        )
    assert {texts_of(cards_of(c.body)[0])[0] for c in sent} == {"Co-production", "Start"}
    rows = await accesses(sessions)
    assert [(a.state, bool(a.activity_id)) for a in rows] == [("offered", True)] * 2
    async with sessions() as session:
        ref = await session.scalar(
            select(ConversationRef).where(ConversationRef.aad_object_id == GAELLE)
        )
    assert ref is not None and ref.person == f"contact:{scene.guest}"


async def test_offers_go_to_the_stored_conversation_without_installing(
    teams: Teams, scene: Scene, fake_entra: FakeEntra, fake_bot_connector: FakeBotConnector
) -> None:
    await teams.say("help", user=GAELLE, locale="fr-FR")  # Gaëlle wrote once: reference stored
    step3 = await to_step3_for(teams, scene, user=JAMES, locale="en-US")
    summary = await teams.click(
        step3, "propose.send", {f"app_{scene.apps['start']}": "true"}, user=JAMES, locale="en-US"
    )
    assert texts_of(summary)[:3] == ["Done for ZZT001", "Offered to Gaëlle Invitée", "Start"]
    assert fake_entra.installed_apps == []
    await fake_bot_connector.await_sent(1, conversation_id=personal_conversation_id(GAELLE))
    offers = [
        c for c in fake_bot_connector.sent if c.conversation_id == personal_conversation_id(GAELLE)
    ]
    (card,) = cards_of(offers[-1].body)
    assert_teams_card(card)
    # In the contact's language (French), not the accountant's.
    assert texts_of(card)[:2] == [
        "Start",
        "James Walker (Cabinet Durand & Associés) vous propose cette application :",
    ]
    assert [a["title"] for a in card["actions"]] == ["Accepter", "Refuser"]


async def test_without_a_contact_the_applications_are_switched_on(
    teams: Teams, scene: Scene, sessions: Sessions
) -> None:
    step1 = await teams.say("propose", user=JAMES, locale="en-US")
    step2 = await teams.click(
        step1, "propose.contacts", {"dossier": "ZZT001"}, user=JAMES, locale="en-US"
    )
    step3 = await teams.click(
        step2, "propose.apps", {"contact": "none"}, user=JAMES, locale="en-US"
    )
    toggles = [b["items"][0]["title"] for b in step3["body"] if b.get("type") == "Container"]
    assert toggles == ["OCR Factures — Achats"]
    ocr = scene.apps["ocr-achats"]
    summary = await teams.click(
        step3, "propose.send", {f"app_{ocr}": "true"}, user=JAMES, locale="en-US"
    )
    assert texts_of(summary) == ["Done for ZZT001", "Switched on", "OCR Factures — Achats"]
    async with sessions() as session:
        connection = await session.scalar(
            select(Connection).where(Connection.firm_application_id == ocr)
        )
        events = list(
            await session.scalars(
                select(AuditEvent.action).where(AuditEvent.action == "dossier.application_on")
            )
        )
    assert connection is not None and connection.active
    assert events == ["dossier.application_on"]
    again = await teams.click(
        step3, "propose.send", {f"app_{ocr}": "true"}, user=JAMES, locale="en-US"
    )
    assert texts_of(again) == ["Done for ZZT001", "Already held", "OCR Factures — Achats"]


async def test_an_unreachable_contact_leaves_the_offer_pending_and_says_so(
    teams: Teams, scene: Scene, sessions: Sessions, fake_bot_connector: FakeBotConnector
) -> None:
    step3 = await to_step3_for(teams, scene)
    fake_bot_connector.fail_next(403, {"error": {"code": "Forbidden", "message": "blocked"}})
    summary = await teams.click(
        step3, "propose.send", {f"app_{scene.apps['start']}": "true"}, user=SOPHIE
    )
    assert texts_of(summary) == [
        "C'est fait pour ZZT001",
        "Non joignable",
        "Start",
        "Je n'ai pas pu joindre Gaëlle Invitée dans Teams : ces offres restent en attente et "
        "apparaissent dans le panneau d'administration.",
    ]
    (access,) = await accesses(sessions)
    assert (access.state, access.activity_id) == ("offered", "")
    async with sessions() as session:
        event = await session.scalar(
            select(AuditEvent).where(AuditEvent.action == "offer.unreachable")
        )
    assert event is not None and event.actor == scene.sophie.ref


async def test_throttled_sends_are_retried_after_retry_after(
    teams: Teams, scene: Scene, sessions: Sessions, fake_bot_connector: FakeBotConnector
) -> None:
    await teams.say("aide", user=GAELLE)
    sleeps = Sleeps()
    sender = sender_of(teams)
    sender.sleep = sleeps
    sender.limiter.sleep = sleeps
    step3 = await to_step3_for(teams, scene)
    fake_bot_connector.fail_next(429, retry_after="3")
    fake_bot_connector.fail_next(429)
    summary = await teams.click(
        step3, "propose.send", {f"app_{scene.apps['start']}": "true"}, user=SOPHIE
    )
    assert texts_of(summary)[1] == "Proposé à Gaëlle Invitée"
    assert sleeps.calls[0] == 3.0 and len(sleeps.calls) == 2  # Retry-After, then a backoff
    (access,) = await accesses(sessions)
    assert access.activity_id


# --------------------------------------------------------------------------- rights


@pytest.mark.parametrize(
    ("locale", "reason"),
    [
        (
            "en-US",
            "You may not propose services for dossier ZZT001: only administrators, members of "
            "the rights-managers group, the dossier master and the engagement manager can.",
        ),
        (
            "fr-FR",
            "Vous ne pouvez pas proposer de services pour le dossier ZZT001 : seuls les "
            "administrateurs, les membres du groupe des gestionnaires des droits, le maître du "
            "dossier et le responsable de mission le peuvent.",
        ),
    ],
)
async def test_a_collaborator_without_rights_is_refused_at_every_step(
    teams: Teams, scene: Scene, sessions: Sessions, locale: str, reason: str
) -> None:
    card = await teams.say("propose ZZT001", user=PAUL, locale=locale)
    assert texts_of(card)[1] == reason
    card = await teams.act("propose.contacts", {"dossier": "ZZT001"}, user=PAUL, locale=locale)
    assert texts_of(card)[1] == reason
    card = await teams.act(
        "propose.send",
        {"dossier": "ZZT001", "contact": str(scene.guest), f"app_{scene.apps['start']}": "true"},
        user=PAUL,
        locale=locale,
    )
    assert texts_of(card)[1] == reason
    assert await accesses(sessions) == []


async def test_contacts_cannot_propose(teams: Teams) -> None:
    card = await teams.say("proposer", user=GAELLE)
    assert texts_of(card)[0] == "Je n'ai pas compris"


async def test_step_three_warns_when_relais_cannot_install_itself_for_guests(
    teams: Teams, scene: Scene, sessions: Sessions
) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            update(Firm).values(consent_error=f"offer_roles_missing: {INSTALL_ROLE}")
        )
    step3 = await to_step3_for(teams, scene)
    assert (
        "Attention : Relais ne peut pas encore s'installer pour un invité qui ne l'a jamais "
        f"ouvert dans Teams (autorisation manquante : {INSTALL_ROLE}). Son offre restera en "
        "attente jusqu'à ce qu'un administrateur accorde à nouveau le consentement Microsoft du cabinet."
    ) in texts_of(step3)
