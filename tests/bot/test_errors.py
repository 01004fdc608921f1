"""A refusal from ``hub/`` reaches the person with its reason, its values filled in, whatever the
path: here a command (``proposer ZZT001``) whose refusal rises to the activity handler, through
``/api/messages`` and the real CloudAdapter, in French and in English. Both databases."""

from __future__ import annotations

from tests.bot.test_invite import PAUL, Teams, assert_teams_card, entra_settings, scene, teams
from tests.cards import texts_of

__all__ = ["entra_settings", "scene", "teams"]


async def test_a_refused_command_says_why_with_the_dossier_in_french(teams: Teams) -> None:
    card = await teams.say("proposer ZZT001", user=PAUL)
    assert_teams_card(card)
    assert texts_of(card) == [
        "Je ne peux pas faire cela",
        "Vous ne pouvez pas proposer de services pour le dossier ZZT001 : seuls les "
        "administrateurs, les membres du groupe des gestionnaires des droits, le maître du "
        "dossier et le responsable de mission le peuvent.",
    ]


async def test_a_refused_command_says_why_with_the_dossier_in_english(teams: Teams) -> None:
    card = await teams.say("propose ZZT001", user=PAUL, locale="en-US")
    assert_teams_card(card)
    assert texts_of(card) == [
        "I can't do that",
        "You may not propose services for dossier ZZT001: only administrators, members of the "
        "rights-managers group, the dossier master and the engagement manager can.",
    ]
