"""End to end: "propose a service" in the panel reaches the contact in Teams exactly as the bot's
``propose`` does — Relais installed for the guest through Graph, the personal chat opened at the
Bot Connector, the offer card sent — and the contact's answer through ``/api/messages`` (real
adapter, Bot Framework authentication on) shows in the panel; the card refreshes to the truth.
Both databases."""

from __future__ import annotations

from typing import Any

from relais.demo import DEMO_TENANT_ID
from storage.db import Sessions
from tests.admin.conftest import csrf_of, sign_in_demo, visible
from tests.admin.test_portfolio import _row
from tests.bot.test_invite import GAELLE, SOPHIE, Teams, assert_teams_card, scene
from tests.bot.test_propose import teams, teams_settings
from tests.cards import cards_of, texts_of
from tests.fakes.activities import personal_conversation_id
from tests.fakes.connector import FakeBotConnector
from tests.fakes.entra import FakeEntra
from tests.fakes.fixtures import BOT_APP_ID
from tests.hub.test_portfolio import Scene

__all__ = ["scene", "teams", "teams_settings"]

DIALOG = "/admin/dossiers/ZZT001/applications"


async def _save(teams: Teams, data: dict[str, Any]) -> str:
    page = await (await teams.client.get(DIALOG)).text()
    response = await teams.client.post(
        DIALOG, data={"csrf_token": csrf_of(page), "next": "/admin/portfolio?q=zzt", **data}
    )
    assert response.status == 200 and response.url.path == "/admin/portfolio"
    return await response.text()


async def test_propose_from_the_panel_reaches_the_contact_who_answers_in_teams(
    teams: Teams,
    scene: Scene,
    sessions: Sessions,
    fake_entra: FakeEntra,
    fake_bot_connector: FakeBotConnector,
) -> None:
    # Sophie has opened Relais in Teams once: the bot knows its way into the firm's Teams.
    await teams.say("aide", user=SOPHIE)
    await sign_in_demo(teams.client, SOPHIE)
    start = scene.apps["start"]
    page = await _save(teams, {"app": str(start), f"contacts-{start}": str(scene.guest)})
    assert (
        "Les applications du dossier ZZT001 sont enregistrées. "
        "Offres envoyées dans Teams : Start à Gaëlle Invitée."
    ) in visible(page)
    assert _row(page, "ZZT001").endswith("Aucune Applications")  # on once she accepts

    # Gaëlle never talked to the bot: Relais was installed for her, then the chat opened from
    # the service URL and bot account of Sophie's conversation.
    assert fake_entra.installed_apps == [(DEMO_TENANT_ID, GAELLE, BOT_APP_ID)]
    (created,) = [c for c in fake_bot_connector.calls.items if c.kind == "create_conversation"]
    assert created.body["members"][0]["aadObjectId"] == GAELLE
    assert created.body["bot"]["id"] == "28:00000000-0000-0000-0000-0000000b0700"
    assert created.body["channelData"]["tenant"]["id"] == DEMO_TENANT_ID
    sophies = personal_conversation_id(SOPHIE)
    (sent,) = [c for c in fake_bot_connector.sent if c.conversation_id != sophies]
    (card,) = cards_of(sent.body)
    assert_teams_card(card)
    assert texts_of(card)[:2] == [
        "Start",
        "Sophie Martin (Cabinet Durand & Associés) vous propose cette application :",
    ]
    assert card["refresh"]["action"]["verb"] == "offer.refresh"
    assert card["refresh"]["userIds"] == [f"8:orgid:{GAELLE}"]

    # Pending in the panel meanwhile: sent, waiting for her answer.
    dialog = visible(await (await teams.client.get(DIALOG)).text())
    assert "Gaëlle Invitée gaelle@zzt.fr offre envoyée dans Teams, en attente de sa réponse" in (
        dialog
    )
    assert (await teams.refresh(card, user=GAELLE))["actions"]  # still Accept / Decline

    # She accepts in Teams, through the real adapter; Sophie is told in her chat.
    before = len([c for c in fake_bot_connector.sent if c.conversation_id == sophies])
    answered = await teams.click(card, "offer.accept", user=GAELLE)
    assert texts_of(answered)[0] == "Vous avez accepté Start"
    told = await fake_bot_connector.await_sent(before + 1, conversation_id=sophies)
    assert texts_of(cards_of(told[-1].body)[0])[0] == (
        "Gaëlle Invitée a accepté Start pour le dossier ZZT001"
    )

    # The panel shows the access granted, and Start switched on for the dossier.
    dialog = visible(await (await teams.client.get(DIALOG)).text())
    assert "Gaëlle Invitée gaelle@zzt.fr a accepté l'offre : accès accordé" in dialog
    portfolio = await (await teams.client.get("/admin/portfolio?q=zzt")).text()
    assert _row(portfolio, "ZZT001").endswith("1 application Applications")

    # Shown again in Teams, the first card tells the truth: answered, no buttons.
    again = await teams.refresh(card, user=GAELLE)
    assert texts_of(again)[0] == "Vous avez accepté Start" and "actions" not in again

    # Sophie withdraws it from the panel: the card says so when Gaëlle opens it.
    page = await _save(teams, {})
    assert "Les applications du dossier ZZT001 sont enregistrées." in visible(page)
    withdrawn = await teams.refresh(card, user=GAELLE)
    assert texts_of(withdrawn)[:2] == [
        "Offre retirée : Start",
        "Cabinet Durand & Associés a retiré cette offre. Rien d'autre n'est à faire de votre côté.",
    ]
    assert "actions" not in withdrawn


async def test_an_offer_refreshes_only_for_its_contact(teams: Teams, scene: Scene) -> None:
    await teams.say("aide", user=SOPHIE)
    await sign_in_demo(teams.client, SOPHIE)
    start = scene.apps["start"]
    await _save(teams, {"app": str(start), f"contacts-{start}": str(scene.guest)})
    (sent,) = [
        c for c in teams.connector.sent if c.conversation_id != personal_conversation_id(SOPHIE)
    ]
    (card,) = cards_of(sent.body)
    refused = await teams.refresh(card, user=SOPHIE)
    assert texts_of(refused) == [
        "Je ne peux pas faire cela",
        "Cette offre a été faite à quelqu'un d'autre : seule cette personne peut y répondre.",
    ]


async def test_an_offer_teams_refuses_stays_pending_with_the_reason(
    teams: Teams, scene: Scene, fake_bot_connector: FakeBotConnector
) -> None:
    await teams.say("aide", user=SOPHIE)
    await sign_in_demo(teams.client, SOPHIE)
    start = scene.apps["start"]
    fake_bot_connector.fail_next(403, {"error": {"code": "Forbidden", "message": "blocked"}})
    page = visible(await _save(teams, {"app": str(start), f"contacts-{start}": str(scene.guest)}))
    assert (
        "Offres restées en attente, visibles dans les applications du dossier : Start à Gaëlle "
        "Invitée (Teams n'a pas accepté le message (code 403) ; réessayez plus tard)."
    ) in page
    dialog = visible(await (await teams.client.get(DIALOG)).text())
    assert (
        "Gaëlle Invitée gaelle@zzt.fr offre en attente, pas encore reçue dans Teams : Teams n'a "
        "pas accepté le message (code 403) ; réessayez plus tard"
    ) in dialog
    # Saved again with her still ticked: the pending offer is tried again, and delivered.
    page = visible(await _save(teams, {"app": str(start), f"contacts-{start}": str(scene.guest)}))
    assert "Offres envoyées dans Teams : Start à Gaëlle Invitée." in page
