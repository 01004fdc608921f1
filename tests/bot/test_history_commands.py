"""``history``, ``failures`` and ``status`` (and ``historique``, ``échecs``, ``statut``) through the
real CloudAdapter: the cards a person sees come back at the fake Bot Connector, the buttons
(show more, Retry) answer ``adaptiveCard/action`` invokes with the card updated in place, on both
databases. The data is the hub tests' scene: failed sends on three dossiers whose people are known.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.cards.failures import RETRY, when
from hub.documents import receive_document, sanitise_filename
from hub.services import Hub
from hub.settings import Settings
from relais.app import build_app
from relais.demo import DemoInfo
from storage.models import AuditEvent, Delivery
from tests.bot.test_invite import Teams, actions_of, assert_teams_card, verb
from tests.bot.test_outside_text import read
from tests.cards import texts_of
from tests.connectors.arrange import pdf
from tests.fakes.connector import FakeBotConnector
from tests.hub.test_history import Scene, _fail, arrange_scene

ADMIN = "a0000000-0000-4000-8000-000000000001"  # Claire Durand, administrator (French)
MARC = "a0000000-0000-4000-8000-000000000002"  # rights manager
SOPHIE = "a0000000-0000-4000-8000-000000000003"  # collaborator, master of sophie_code only
JAMES = "a0000000-0000-4000-8000-000000000004"  # collaborator (English), master of james_code
OCR = "OCR Factures — Achats"
LEGAL = "Gestion juridique"
EN = "en-US"


@pytest.fixture
async def scene(hub: Hub, demo: DemoInfo) -> Scene:
    return await arrange_scene(hub, demo)


@pytest.fixture
def contact(demo: DemoInfo) -> str:
    """The guest contact linked to the scene's contact dossier."""
    return demo.contacts[0].object_id


@pytest.fixture
async def teams(
    settings: Settings, scene: Scene, aiohttp_client: Any, fake_bot_connector: FakeBotConnector
) -> Teams:
    """The app in demo mode (no Bot Framework authentication), replies at the fake connector."""
    return Teams(await aiohttp_client(build_app(settings)), fake_bot_connector)


def documents_on(card: dict[str, Any]) -> list[str]:
    """The document names, in the order the card lists them (each item's first line)."""
    return [c["items"][0]["text"] for c in card["body"] if c.get("type") == "Container"]


def item(card: dict[str, Any], first_line: str) -> list[str]:
    """The texts of the one listed item whose first line starts with ``first_line``."""
    (found,) = [
        c
        for c in card["body"]
        if c.get("type") == "Container" and c["items"][0]["text"].startswith(first_line)
    ]
    return texts_of(found)


def sends(card: dict[str, Any], first_line: str = "") -> list[tuple[str, str]]:
    """(what, what became of it) of every send line, in the item whose first line starts with
    ``first_line`` (the whole card when empty)."""
    found: list[tuple[str, str]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "ColumnSet":
                left, right = node["columns"]
                found.append((left["items"][0]["text"], right["items"][0]["text"]))
                return
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(
        next(
            c
            for c in card["body"]
            if c.get("type") == "Container" and c["items"][0]["text"].startswith(first_line)
        )
        if first_line
        else card["body"]
    )
    return found


async def delivery(hub: Hub, delivery_id: int) -> Delivery:
    async with hub.sessions() as session:
        row = await session.get(Delivery, delivery_id)
        assert row is not None
        return row


async def mark_sent(hub: Hub, delivery_id: int, reference: str, at: datetime) -> None:
    async with hub.sessions() as session, session.begin():
        await session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id)
            .values(status="sent", app_reference=reference, sent_at=at)
        )


async def second_delivery(hub: Hub, scene: Scene, name: str) -> int:
    """The send to the second application (pending) of the scene's document ``name``."""
    failed = await delivery(hub, scene.failed[name])
    async with hub.sessions() as session:
        found = await session.scalar(
            select(Delivery.id).where(
                Delivery.document_version_id == failed.document_version_id,
                Delivery.id != failed.id,
            )
        )
        assert found is not None
        return int(found)


# --------------------------------------------------------------------------- history


async def test_historique_lists_the_documents_newest_first_with_versions_and_sends(
    teams: Teams, hub: Hub, scene: Scene
) -> None:
    sent_at = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    await mark_sent(hub, await second_delivery(hub, scene, "facture-0412.pdf"), "JUR-77", sent_at)
    card = await teams.say("historique facture", user=ADMIN)
    texts = texts_of(card)
    assert texts[0] == "Historique — « facture »"
    assert documents_on(card) == ["facture-0413.pdf", "facture-0412.pdf"]
    lines = item(card, "facture-0412.pdf")
    assert lines[1].startswith(f"{scene.sophie_code} · ") and lines[1].endswith(" · Achats/2025")
    assert lines[2].startswith("Version 1 · {{DATE(") and lines[2].endswith(" · Claire Durand")
    assert sends(card, "facture-0412.pdf") == [
        (OCR, "Échec : Code dossier inconnu"),
        (LEGAL, f"Envoyé {when(sent_at)} · réf. JUR-77"),
    ]
    assert "Renvoyer" in lines  # the administrator may send the failed one again
    assert (LEGAL, "En attente d'envoi") in sends(card, "facture-0413.pdf")
    assert "actions" not in card  # two documents: no "show more"


async def test_history_in_english_shows_a_collaborator_only_their_portfolio(
    teams: Teams, scene: Scene
) -> None:
    james = await teams.say("history facture", user=JAMES, locale=EN)
    assert texts_of(james)[0] == "History — “facture”"
    assert documents_on(james) == ["facture-0413.pdf"]
    assert (OCR, "Failed: File too large") in sends(james, "facture-0413.pdf")
    sophie = await teams.say("historique pdf", user=SOPHIE)
    assert documents_on(sophie) == ["avoir-0415.pdf", "facture-0412.pdf"]


async def test_a_contact_sees_only_the_documents_of_their_dossiers(
    teams: Teams, scene: Scene, contact: str
) -> None:
    mine = await teams.say("historique pdf", user=contact)
    assert documents_on(mine) == ["=cmd-0414.pdf"]
    assert "Renvoyer" not in texts_of(mine)  # contacts send nothing again
    other = await teams.say("history facture", user=contact, locale=EN)
    assert texts_of(other)[1] == "No document whose name contains “facture” in your dossiers."


async def test_history_without_a_name_says_how_to_use_it(teams: Teams) -> None:
    fr = await teams.say("historique", user=ADMIN)
    assert texts_of(fr)[:3] == [
        "Quel document ?",
        "Tapez **historique** suivi d'une partie du nom du fichier. Je liste les documents de vos "
        "dossiers qui correspondent, du plus récent au plus ancien, avec chaque version et où "
        "elle a été envoyée.",
        "Par exemple : **historique facture**",
    ]
    assert fr["actions"][0]["data"] == {
        "msteams": {"type": "imBack", "value": "historique facture"}
    }
    en = await teams.say("HISTORY", user=JAMES, locale=EN)
    assert texts_of(en)[0] == "Which document?"
    assert en["actions"][0]["data"]["msteams"]["value"] == "history facture"


async def test_show_more_replaces_the_card_with_the_next_documents(
    teams: Teams, hub: Hub, scene: Scene
) -> None:
    for i in range(7):
        await receive_document(
            hub,
            scene.admin,
            scene.sophie_code,
            "Ventes/2025",
            f"releve-{i}.pdf",
            pdf(f"r{i}"),
            "bot",
        )
    first = await teams.say("historique releve", user=SOPHIE)
    assert documents_on(first) == [f"releve-{i}.pdf" for i in (6, 5, 4, 3, 2)]
    more = verb(first, "history.more")
    assert more["title"] == "Afficher la suite"
    second = await teams.click(first, "history.more", user=SOPHIE)
    assert texts_of(second)[0] == "Historique — « releve » (suite)"
    assert documents_on(second) == ["releve-1.pdf", "releve-0.pdf"]
    assert "history.more" not in [a["verb"] for a in actions_of(second)]
    # A person outside Sophie's portfolio pressing the same button sees none of them.
    james = await teams.act("history.more", more["data"], user=JAMES, locale=EN)
    assert documents_on(james) == []


async def test_retry_on_a_history_page_updates_that_page(
    teams: Teams, hub: Hub, scene: Scene
) -> None:
    card = await teams.say("history 0412", user=ADMIN, locale=EN)
    updated = await teams.click(card, RETRY, user=ADMIN, locale=EN)
    assert texts_of(updated)[1] == "1 send was queued again. Relais sends it in a moment."
    assert (OCR, "Waiting to be sent") in sends(updated, "facture-0412.pdf")
    assert RETRY not in [a["verb"] for a in actions_of(updated)]
    assert (await delivery(hub, scene.failed["facture-0412.pdf"])).status == "pending"


# --------------------------------------------------------------------------- failures


async def test_echecs_lists_the_failures_with_their_reason_and_retry_buttons(
    teams: Teams, scene: Scene
) -> None:
    card = await teams.say("échecs", user=ADMIN)
    assert texts_of(card)[0] == "Envois en échec"
    assert documents_on(card) == [
        f"=cmd-0414.pdf (version 1) → {OCR}",
        f"facture-0413.pdf (version 1) → {OCR}",
        f"facture-0412.pdf (version 1) → {OCR}",
    ]
    big = item(card, "facture-0413.pdf")
    assert big[1].startswith(f"{scene.james_code} · ") and " · mis en file {{DATE(" in big[1]
    assert big[2:5] == [
        "Fichier trop volumineux",
        "L'application n'accepte pas des fichiers aussi lourds : compressez ou découpez le "
        "document, puis déposez-le à nouveau.",
        "Réponse de l'application : too_large: refused by the sandbox",
    ]
    retries = [a for a in actions_of(card) if a["verb"] == RETRY]
    assert [a["title"] for a in retries] == ["Renvoyer"] * 3 + ["Renvoyer les 3 affichés"]
    assert retries[1]["data"]["ids"] == [scene.failed["facture-0413.pdf"]]
    assert sorted(retries[-1]["data"]["ids"]) == sorted(scene.failed.values())


async def test_failures_of_one_dossier_in_english(teams: Teams, scene: Scene) -> None:
    card = await teams.say(f"failures {scene.james_code}", user=ADMIN, locale=EN)
    assert texts_of(card)[0] == f"Failed sends — {scene.james_code}"
    assert documents_on(card) == [f"facture-0413.pdf (version 1) → {OCR}"]
    assert item(card, "facture-0413.pdf")[2] == "File too large"
    none = await teams.say(f"echecs {scene.sophie_code}", user=JAMES)  # not James's dossier
    assert texts_of(none)[:2] == [
        "Dossier inconnu",
        f"Je ne connais pas le dossier « {scene.sophie_code} », ou ce n'est pas un de vos "
        "dossiers. Vérifiez le code et réessayez.",
    ]


async def test_a_collaborator_sees_and_retries_only_their_portfolio(
    teams: Teams, hub: Hub, scene: Scene
) -> None:
    sophie = await teams.say("échecs", user=SOPHIE)
    assert documents_on(sophie) == [f"facture-0412.pdf (version 1) → {OCR}"]
    # A Retry button of another dossier, pressed by Sophie: refused, and nothing changes.
    refused = await teams.act(RETRY, {"ids": [scene.failed["facture-0413.pdf"]]}, user=SOPHIE)
    assert texts_of(refused) == [
        "Je ne peux pas faire cela",
        "Vous ne pouvez pas renvoyer ces documents : seuls les administrateurs, les gestionnaires "
        "des droits et le maître ou le responsable de mission du dossier le peuvent.",
    ]
    assert (await delivery(hub, scene.failed["facture-0413.pdf"])).status == "failed"
    # A button whose data is not a list of sends: said so, nothing done.
    bad = await teams.act(RETRY, {"ids": "12,abc"}, user=ADMIN)
    assert texts_of(bad)[1] == "Rien à renvoyer : ce bouton ne désigne aucun envoi."


async def test_retry_queues_the_send_again_and_updates_the_card_in_place(
    teams: Teams, hub: Hub, scene: Scene
) -> None:
    card = await teams.say("échecs", user=ADMIN)
    target = scene.failed["facture-0413.pdf"]
    button = next(
        a for a in actions_of(card) if a["verb"] == RETRY and a["data"]["ids"] == [target]
    )
    updated = await teams.act(RETRY, button["data"], user=ADMIN)
    texts = texts_of(updated)
    assert texts[1] == "1 envoi a été remis en file. Relais l'envoie dans un instant."
    # Same list, the one sent again marked so, the others still with their button.
    assert documents_on(updated) == documents_on(card)
    assert (
        item(updated, "facture-0413.pdf")[-1] == "Remis en file : Relais l'envoie dans un instant."
    )
    assert "Renvoyer" not in item(updated, "facture-0413.pdf")
    assert "Renvoyer" in item(updated, "facture-0412.pdf")
    assert "Renvoyer les 2 affichés" in texts
    row = await delivery(hub, target)
    assert (row.status, row.attempts, row.failure_reason) == ("pending", 0, None)
    async with hub.sessions() as session:
        audit = await session.scalar(
            select(AuditEvent).where(AuditEvent.action == "deliveries.retried")
        )
    assert audit is not None and audit.target_id == str(target)
    # Typed again, the list no longer has it.
    again = await teams.say("échecs", user=ADMIN)
    assert len(documents_on(again)) == 2


async def test_retry_all_shown_and_the_notification_contract(
    teams: Teams, hub: Hub, scene: Scene
) -> None:
    card = await teams.say("failures", user=MARC, locale=EN)  # the rights manager: whole firm
    updated = await teams.click(card, RETRY, user=MARC, locale=EN)  # the first: one send
    assert texts_of(updated)[1] == "1 send was queued again. Relais sends it in a moment."
    every = next(a for a in actions_of(card) if a["title"] == "Retry all 3 shown")
    done = await teams.act(RETRY, every["data"], user=MARC, locale=EN)
    assert texts_of(done)[1] == "2 sends were queued again. Relais sends them in a moment."
    for delivery_id in scene.failed.values():
        assert (await delivery(hub, delivery_id)).status == "pending"
    # The grouped notification's button: ids alone (here as a string), a short answer.
    async with hub.sessions() as session, session.begin():
        await session.execute(
            update(Delivery)
            .where(Delivery.id.in_(list(scene.failed.values())))
            .values(status="failed", failure_reason="gave_up")
        )
    ids = ",".join(str(i) for i in scene.failed.values())
    short = await teams.act(RETRY, {"ids": ids}, user=MARC, locale=EN)
    assert texts_of(short) == [
        "Queued again",
        "3 sends were queued again. Relais sends them in a moment.",
        "See the failed sends",
    ]
    assert short["actions"][0]["data"]["msteams"]["value"] == "failures"
    nothing = await teams.act(RETRY, {"ids": ids}, user=MARC, locale=EN)
    assert texts_of(nothing)[1].startswith("Nothing to send again")


async def test_a_contact_asking_for_failures_is_refused_politely(
    teams: Teams, hub: Hub, scene: Scene, contact: str
) -> None:
    card = await teams.say("échecs", user=contact)
    assert texts_of(card)[0] == "Cette liste est réservée au cabinet"
    assert "historique" in texts_of(card)[1]
    english = await teams.say("failures", user=contact, locale=EN)
    assert texts_of(english)[0] == "This list is for the firm's staff"
    pressed = await teams.act(RETRY, {"ids": [scene.failed["=cmd-0414.pdf"]]}, user=contact)
    assert texts_of(pressed)[1] == "Seul le personnel du cabinet peut faire cela."
    assert (await delivery(hub, scene.failed["=cmd-0414.pdf"])).status == "failed"
    # Help lists history and status for a contact, not failures.
    help_card = await teams.say("aide", user=contact)
    words = [f["title"] for f in help_card["body"][2]["facts"]]
    assert "historique" in words and "statut" in words and "échecs" not in words
    staff_help = await teams.say("help", user=ADMIN, locale=EN)
    assert {"history", "failures", "status"} <= {f["title"] for f in staff_help["body"][2]["facts"]}


async def test_failures_show_more_pages_by_keyset(teams: Teams, hub: Hub, scene: Scene) -> None:
    names = []
    for i in range(4):
        receipt = await receive_document(
            hub, scene.admin, scene.sophie_code, "Achats/2025", f"ko-{i}.pdf", pdf(f"k{i}"), "bot"
        )
        names.append(f"ko-{i}.pdf")
        async with hub.sessions() as session, session.begin():
            await session.execute(
                update(Delivery)
                .where(Delivery.document_version_id == receipt.version_id)
                .values(status="failed", failure_reason="gave_up")
            )
    first = await teams.say("failures", user=ADMIN, locale=EN)
    assert len(documents_on(first)) == 5
    second = await teams.click(first, "failures.more", user=ADMIN, locale=EN)
    assert texts_of(second)[0] == "Failed sends (continued)"
    third = await teams.click(second, "failures.more", user=ADMIN, locale=EN)
    assert "failures.more" not in [a["verb"] for a in actions_of(third)]
    # 3 failures of the scene and 8 new ones (two applications each), each shown once.
    singles = [
        a["data"]["ids"][0]
        for c in (first, second, third)
        for a in actions_of(c)
        if a["verb"] == RETRY and len(a["data"]["ids"]) == 1
    ]
    assert len(set(singles)) == len(singles) == 11
    # Retry on the second page answers the second page again.
    updated = await teams.click(second, RETRY, user=ADMIN, locale=EN)
    assert texts_of(updated)[0] == "Failed sends (continued)"
    assert documents_on(updated) == documents_on(second)


async def test_an_older_client_retries_through_the_submit_fallback(
    teams: Teams, hub: Hub, scene: Scene, fake_bot_connector: FakeBotConnector
) -> None:
    card = await teams.say("échecs", user=ADMIN)
    fallback = verb(card, RETRY)["fallback"]
    activity = teams.activity("", user=ADMIN, locale="fr-FR", value=fallback["data"])
    activity["replyToId"] = "fake-activity-1"
    await teams.post(activity)
    (updated,) = await fake_bot_connector.calls.await_for(1, where=lambda c: c.kind == "update")
    assert updated.activity_id == "fake-activity-1"
    (new,) = updated.adaptive_cards
    assert_teams_card(new)
    assert texts_of(new)[1] == "1 envoi a été remis en file. Relais l'envoie dans un instant."
    assert (await delivery(hub, fallback["data"]["ids"][0])).status == "pending"


# --------------------------------------------------------------------------- status


async def test_statut_shows_applications_folders_and_last_sends(teams: Teams, scene: Scene) -> None:
    card = await teams.say(f"statut {scene.sophie_code}", user=SOPHIE)
    texts = texts_of(card)
    assert texts[0].startswith(f"{scene.sophie_code} — ")
    assert texts[1:3] == ["Dossier actif", "Applications"]
    assert item(card, LEGAL) == [
        LEGAL,
        "Envoi par l'API de l'application",
        "Répertoires : Achats",
        "2 en attente · 0 en échec",
    ]
    assert item(card, OCR) == [
        OCR,
        "Envoi par l'API de l'application",
        f"Code du dossier chez l'application : X-{scene.sophie_code}",
        "Répertoires : Achats",
        "1 en attente · 1 en échec",
    ]
    last = sends(card)
    assert (f"avoir-0415.pdf (v1) → {LEGAL}", "En attente d'envoi") in last
    assert (f"facture-0412.pdf (v1) → {OCR}", "Échec : Code dossier inconnu") in last
    assert card["actions"][0]["data"]["msteams"]["value"] == f"échecs {scene.sophie_code}"


async def test_status_in_english_for_a_contact_and_unknown_codes(
    teams: Teams, scene: Scene, contact: str
) -> None:
    mine = await teams.say(f"status {scene.contact_code}", user=contact, locale=EN)
    assert texts_of(mine)[1] == "Active dossier"
    assert item(mine, OCR) == [OCR, "Folders: Achats", "0 waiting · 1 failed"]  # no internals
    assert "actions" not in mine
    other = await teams.say(f"status {scene.sophie_code}", user=contact, locale=EN)
    assert texts_of(other)[:2] == [
        "Unknown dossier",
        f"I don't know the dossier “{scene.sophie_code}”, or it is not one of your dossiers. "
        "Check the code and try again.",
    ]
    unknown = await teams.say("statut NOPE42", user=ADMIN)
    assert texts_of(unknown)[0] == "Dossier inconnu"
    usage = await teams.say("status", user=JAMES, locale=EN)
    assert texts_of(usage)[0] == "Which dossier?"
    # The example is one of James's own dossiers (the connected one), not a made-up code.
    assert usage["actions"][0]["data"]["msteams"]["value"] == f"status {scene.james_code}"
    tried = await teams.say(usage["actions"][0]["data"]["msteams"]["value"], user=JAMES, locale=EN)
    assert texts_of(tried)[0] != "Unknown dossier"


# --------------------------------------------------------------------------- outside text

# A slash would be taken for a folder: the stored name is the file's own ("__now__" is bold too).
EVIL_FILE = sanitise_filename("[click](evil.example) **now**.pdf")
EVIL_TERM = "[click](evil.example)"
EVIL_ANSWER = "**bold** [x](https://evil)"


async def evil_document(hub: Hub, scene: Scene) -> tuple[int, int]:
    """A file named like a Markdown link, whose send to the OCR application failed with an
    answer full of Markdown, and whose send to the other waits after two passing faults.
    Returns (the failed send, the waiting one)."""
    receipt = await receive_document(
        hub, scene.admin, scene.sophie_code, "Achats/2025", EVIL_FILE, pdf("evil"), "bot"
    )
    async with hub.sessions() as session:
        failed, waiting = (
            await session.scalars(
                select(Delivery)
                .where(Delivery.document_version_id == receipt.version_id)
                .order_by(Delivery.id)
            )
        ).all()
    await _fail(hub, failed.id, "rejected", detail=f"rejected: {EVIL_ANSWER}")
    async with hub.sessions() as session, session.begin():
        await session.execute(
            update(Delivery)
            .where(Delivery.id == waiting.id)
            .values(attempts=2, next_attempt_at=NEXT_TRY)
        )
    return failed.id, waiting.id


NEXT_TRY = datetime(2026, 11, 20, 10, 45, tzinfo=UTC)


def assert_read_as_typed(card: dict[str, Any], *typed: str) -> None:
    """Each of ``typed`` is on the card as text (escaped), never as a link or bold."""
    texts = [t for t in texts_of(card) if "evil" in t]
    assert texts
    for text in texts:
        assert "\\[" in text
        read(text)  # one plain run of text: no link, no bold
    shown = " ".join(read(text) for text in texts)
    for value in typed:
        assert value in shown


@pytest.mark.parametrize("locale", ["fr-FR", EN])
async def test_markdown_in_file_names_and_answers_shows_as_typed(
    teams: Teams, hub: Hub, scene: Scene, locale: str
) -> None:
    await evil_document(hub, scene)
    fr = locale != EN
    found = await teams.say(
        f"{'historique' if fr else 'history'} {EVIL_TERM}",
        user=ADMIN,
        locale=locale,
    )
    assert EVIL_FILE == "[click](evil.example) __now__.pdf"
    assert_read_as_typed(found, EVIL_FILE, EVIL_TERM)
    assert documents_on(found) == [r"\[click\](evil.example) \_\_now\_\_.pdf"]

    listed = await teams.say("échecs" if fr else "failures", user=ADMIN, locale=locale)
    assert_read_as_typed(listed, EVIL_FILE, EVIL_ANSWER)
    answer = next(t for t in texts_of(listed) if "bold" in t)
    assert r"\*\*bold\*\* \[x\](https://evil)" in answer

    status = await teams.say(
        f"{'statut' if fr else 'status'} {scene.sophie_code}", user=ADMIN, locale=locale
    )
    assert_read_as_typed(status, EVIL_FILE)


async def test_a_send_waiting_after_faults_shows_its_next_try_in_history(
    teams: Teams, hub: Hub, scene: Scene
) -> None:
    await evil_document(hub, scene)
    fr = await teams.say("historique click", user=ADMIN)
    assert (
        LEGAL,
        f"En attente · prochain essai {when(NEXT_TRY)} (essais jusqu'ici : 2)",
    ) in sends(fr)
    en = await teams.say("history click", user=ADMIN, locale=EN)
    assert (LEGAL, f"Waiting · next try {when(NEXT_TRY)} (tries so far: 2)") in sends(en)
    # Not yet tried: nothing to say of a next try.
    assert (LEGAL, "Waiting to be sent") in sends(
        await teams.say("history facture-0413", user=ADMIN, locale=EN)
    )
