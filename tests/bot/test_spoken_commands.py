"""Issue 13: the bot spoken to as people do, through the real adapter, in French and English, on
both databases — filler words before a dossier's code, codes in any case, formatted messages,
what was sent today, pasted pictures and the help card."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botbuilder.schema import AdaptiveCardInvokeValue

from bot.cards.failures import RETRY
from hub.documents import receive_document
from hub.history import today_in
from hub.services import Hub
from tests.bot.test_history_commands import (
    ADMIN,
    EN,
    JAMES,
    LEGAL,
    OCR,
    SOPHIE,
    contact,
    documents_on,
    mark_sent,
    scene,
    second_delivery,
    teams,
)
from tests.bot.test_invite import Teams, assert_teams_card
from tests.cards import cards_of, texts_of
from tests.connectors.arrange import pdf
from tests.hub.test_history import Scene

__all__ = ["contact", "scene", "teams"]  # the fixtures, shared with the history commands' tests

# --------------------------------------------------------------------------- dossier codes


@pytest.mark.parametrize(
    ("said", "locale"),
    [
        ("failures for dossier {code}", EN),
        ("failures of the file {code}", EN),
        ("échecs pour le dossier {code}", "fr-FR"),
        ("échecs du dossier {code}", "fr-FR"),
        ("Echecs de {lower}", "fr-FR"),
        ("failures  {lower} ", EN),
    ],
)
async def test_failures_with_filler_words_and_any_case(
    teams: Teams, scene: Scene, said: str, locale: str
) -> None:
    code = scene.james_code
    card = await teams.say(said.format(code=code, lower=code.lower()), user=ADMIN, locale=locale)
    title = "Failed sends" if locale == EN else "Envois en échec"
    assert texts_of(card)[0].startswith(title)
    assert documents_on(card) == [f"facture-0413.pdf (version 1) → {OCR}"]


@pytest.mark.parametrize(
    ("said", "locale"),
    [
        ("statut du dossier {code}", "fr-FR"),
        ("statut {lower}", "fr-FR"),
        ("STATUT de la {lower}", "fr-FR"),
        ("status of dossier {lower}", EN),
        ("status for {code}", EN),
    ],
)
async def test_status_with_filler_words_and_any_case(
    teams: Teams, scene: Scene, said: str, locale: str
) -> None:
    code = scene.sophie_code
    card = await teams.say(said.format(code=code, lower=code.lower()), user=SOPHIE, locale=locale)
    assert texts_of(card)[0].startswith(f"{code} — ")  # the code as the firm spells it


async def test_a_code_that_is_a_filler_word_is_still_a_code(teams: Teams, scene: Scene) -> None:
    card = await teams.say("statut du", user=ADMIN)
    assert texts_of(card)[:2] == [
        "Dossier inconnu",
        "Je ne connais pas le dossier « du », ou ce n'est pas un de vos dossiers. "
        "Vérifiez le code et réessayez.",
    ]
    other = await teams.say(f"failures for {scene.sophie_code}", user=JAMES, locale=EN)
    assert texts_of(other)[0] == "Unknown dossier"  # not James's, in any spelling


# --------------------------------------------------------------------------- formatted messages


async def answer(teams: Teams, activity: dict[str, Any]) -> dict[str, Any]:
    """The one card the bot answers ``activity`` with."""
    before = len(teams.connector.sent)
    await teams.post(activity)
    replies = (await teams.connector.await_sent(before + 1))[before:]
    assert len(replies) == 1
    (card,) = cards_of(replies[0].body)
    assert_teams_card(card)
    return card


HELP_TITLE = {"fr-FR": "Relais — ce que je sais faire", EN: "Relais — what I can do"}


@pytest.mark.parametrize(
    ("text", "text_format", "html", "locale"),
    [
        ("<p>aide</p>", "xml", None, "fr-FR"),
        ("<div><div><strong>help</strong></div></div>", "html", None, EN),
        ("<p>&nbsp;aide&nbsp;</p>", "plain", None, "fr-FR"),  # Teams' format says plain
        ("<at>Relais</at> help", "xml", None, EN),  # a mention without its entity
        ("", "plain", '<div><at id="0">Relais</at>&nbsp;<p>aide</p></div>', "fr-FR"),
    ],
)
async def test_a_formatted_message_is_read_as_its_words(
    teams: Teams, scene: Scene, text: str, text_format: str, html: str | None, locale: str
) -> None:
    activity = teams.activity(text, user=ADMIN, locale=locale)
    activity["textFormat"] = text_format
    if html is not None:
        activity["attachments"] = [{"contentType": "text/html", "content": html}]
    card = await answer(teams, activity)
    assert texts_of(card)[0] == HELP_TITLE[locale]


async def test_a_mentioned_and_formatted_status_reads_the_code(teams: Teams, scene: Scene) -> None:
    text = f"<at>Relais</at> <p>statut <b>du dossier</b> {scene.sophie_code.lower()}</p>"
    activity = teams.activity(text, user=SOPHIE, locale="fr-FR")
    activity["textFormat"] = "xml"
    activity["entities"] = [
        {
            "type": "mention",
            "text": "<at>Relais</at>",
            "mentioned": {"id": activity["recipient"]["id"], "name": "Relais"},
        }
    ]
    card = await answer(teams, activity)
    assert texts_of(card)[0].startswith(f"{scene.sophie_code} — ")


# --------------------------------------------------------------------------- pasted pictures


def pasted_image(teams: Teams, user: str, locale: str) -> dict[str, Any]:
    """A screenshot pasted in the chat, as Teams sends it: an inline ``image/*`` attachment whose
    ``contentUrl`` is on the Bot Connector, with the HTML copy of the message."""
    activity = teams.activity("", user=user, locale=locale)
    url = f"{teams.connector.url}/v3/attachments/0-wus-d1-abc/views/original"
    activity["attachments"] = [
        {"contentType": "image/*", "contentUrl": url},
        {
            "contentType": "text/html",
            "content": f'<div><div><span><img height="142" src="{url}" width="300"></span></div></div>',
        },
    ]
    return activity


@pytest.mark.parametrize("locale", ["fr-FR", EN])
async def test_a_pasted_picture_gets_a_polite_answer(
    teams: Teams, scene: Scene, contact: str, locale: str
) -> None:
    for user in (contact, ADMIN):
        card = await answer(teams, pasted_image(teams, user, locale))
        texts = texts_of(card)
        if locale == EN:
            assert texts[0] == "Pictures pasted in the message can't be filed"
            assert "Attach it as a file instead" in texts[1]
        else:
            assert texts[0] == "Je ne peux pas classer une image collée"
            assert "Joignez-la plutôt comme fichier" in texts[1]


# --------------------------------------------------------------------------- help


@pytest.mark.parametrize("locale", ["fr-FR", EN])
async def test_help_tells_contacts_they_can_drop_a_file_and_not_of_the_panel(
    teams: Teams, scene: Scene, contact: str, locale: str
) -> None:
    fr = locale != EN
    card = await teams.say("aide" if fr else "help", user=contact, locale=locale)
    texts = " ".join(texts_of(card))
    assert ("déposer un fichier" if fr else "drop a file") in texts
    assert "panneau" not in texts and "panel" not in texts
    assert "actions" not in card
    staff = await teams.say("aide" if fr else "help", user=ADMIN, locale=locale)
    staff_texts = " ".join(texts_of(staff))
    assert ("déposer un fichier" if fr else "drop a file") in staff_texts
    assert staff["actions"][0]["type"] == "Action.OpenUrl"  # the panel, for the staff


# --------------------------------------------------------------------------- SDK warnings


async def test_a_card_click_logs_no_trigger_warning(
    teams: Teams, scene: Scene, caplog: pytest.LogCaptureFixture
) -> None:
    first = await teams.say("failures", user=ADMIN, locale=EN)
    with caplog.at_level(logging.WARNING, logger="msrest.serialization"):
        await teams.click(first, RETRY, user=ADMIN, locale=EN)
        await teams.refresh(first, user=ADMIN, locale=EN) if "refresh" in first else None
    assert [r.getMessage() for r in caplog.records if r.name == "msrest.serialization"] == []
    # Another unknown attribute still warns: only Teams' ``trigger`` is known to be harmless.
    with caplog.at_level(logging.WARNING, logger="msrest.serialization"):
        AdaptiveCardInvokeValue(trigger="manual", colour="red")
    assert [r.args[0] for r in caplog.records if r.name == "msrest.serialization"] == ["colour"]


# --------------------------------------------------------------------------- history search


@pytest.mark.parametrize(
    ("said", "locale", "found"),
    [
        ("historique relevé", "fr-FR", ["releve-0412-banque.pdf"]),
        ("historique RELEVE banque", "fr-FR", ["releve-0412-banque.pdf"]),
        ("history facture edf", EN, ["facture-0412-edf.pdf"]),
        ("history EDF Facture", EN, ["facture-0412-edf.pdf"]),
        ("historique état lieux", "fr-FR", ["Etat des lieux.pdf"]),
    ],
)
async def test_history_finds_every_word_with_or_without_accents(
    teams: Teams, hub: Hub, scene: Scene, said: str, locale: str, found: list[str]
) -> None:
    for name in ("releve-0412-banque.pdf", "facture-0412-edf.pdf", "Etat des lieux.pdf"):
        await receive_document(
            hub, scene.admin, scene.sophie_code, "Achats", name, pdf(name), "bot"
        )
    card = await teams.say(said, user=ADMIN, locale=locale)
    assert documents_on(card) == found


# --------------------------------------------------------------------------- sent today


async def sent_scene(hub: Hub, scene: Scene) -> None:
    """Two sends today in the firm's time zone (to each application) and one yesterday."""
    start, _ = today_in(hub.settings.notice_timezone)
    now = datetime.now(UTC)
    today = start + (now - start) / 2  # after midnight in Paris, whatever the hour now
    await mark_sent(hub, await second_delivery(hub, scene, "facture-0412.pdf"), "JUR-1", today)
    await mark_sent(hub, scene.failed["facture-0413.pdf"], "OCR-2", today)
    await mark_sent(hub, scene.failed["=cmd-0414.pdf"], "OCR-3", start - timedelta(hours=1))


def sent_lines(card: dict[str, Any]) -> list[str]:
    return [text.split(" · ")[0] for text in texts_of(card) if " → " in text]


@pytest.mark.parametrize(
    ("said", "locale", "title", "lines"),
    [
        (
            "what was sent to the OCR today",
            EN,
            f"Sent today — {OCR}",
            [f"facture-0413.pdf (v1) → {OCR}"],
        ),
        (
            "What was sent to OCR today?",
            EN,
            f"Sent today — {OCR}",
            [f"facture-0413.pdf (v1) → {OCR}"],
        ),
        (
            "qu’est-ce qui a été envoyé à l’OCR aujourd’hui ?",
            "fr-FR",
            f"Envoyés aujourd'hui — {OCR}",
            [f"facture-0413.pdf (v1) → {OCR}"],
        ),
        (
            "envoyés ocr",
            "fr-FR",
            f"Envoyés aujourd'hui — {OCR}",
            [f"facture-0413.pdf (v1) → {OCR}"],
        ),
        (
            "envoyés juridique",
            "fr-FR",
            f"Envoyés aujourd'hui — {LEGAL}",
            [f"facture-0412.pdf (v1) → {LEGAL}"],
        ),
    ],
)
async def test_what_was_sent_today_to_one_application(
    teams: Teams, hub: Hub, scene: Scene, said: str, locale: str, title: str, lines: list[str]
) -> None:
    await sent_scene(hub, scene)
    card = await teams.say(said, user=ADMIN, locale=locale)
    assert texts_of(card)[0] == title
    assert sent_lines(card) == lines


async def test_what_was_sent_today_to_every_application_and_by_whom_it_is_seen(
    teams: Teams, hub: Hub, scene: Scene
) -> None:
    await sent_scene(hub, scene)
    every = await teams.say("sent", user=ADMIN, locale=EN)
    assert texts_of(every)[:2] == ["Sent today", "2 documents sent since midnight, newest first:"]
    assert sorted(sent_lines(every)) == [
        f"facture-0412.pdf (v1) → {LEGAL}",
        f"facture-0413.pdf (v1) → {OCR}",
    ]
    # James sees his own dossier's sends only.
    james = await teams.say("qu'est-ce qui a été envoyé aujourd'hui", user=JAMES)
    assert sent_lines(james) == [f"facture-0413.pdf (v1) → {OCR}"]
    unknown = await teams.say("envoyés paie", user=ADMIN)
    assert texts_of(unknown)[1].startswith("Aucune application du cabinet ne s'appelle « paie »")
    help_card = await teams.say("aide", user=ADMIN)
    assert "envoyés" in [f["title"] for f in help_card["body"][2]["facts"]]
