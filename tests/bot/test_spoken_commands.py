"""Issue 13: the bot spoken to as people do, through the real adapter, in French and English, on
both databases — filler words before a dossier's code, codes in any case, formatted messages,
what was sent today, pasted pictures and the help card."""

from __future__ import annotations

import pytest

from tests.bot.test_history_commands import (
    ADMIN,
    EN,
    JAMES,
    OCR,
    SOPHIE,
    contact,
    documents_on,
    scene,
    teams,
)
from tests.bot.test_invite import Teams
from tests.cards import texts_of
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
