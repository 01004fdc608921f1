"""Adaptive card builders: plain functions that return plain dicts (Adaptive Cards 1.5).

Handlers never build cards inline; every card a person can see is made here and validated by the
tests against Microsoft's schema. Each builder takes the person's :class:`~hub.i18n.Translator`
(it knows their language) and the data to show; none talks to Teams or to ``hub/``.
"""

from bot.cards.basics import apology_card, refusal_card, unknown_command_card, unreadable_card
from bot.cards.help import help_card, welcome_card

__all__ = [
    "apology_card",
    "help_card",
    "refusal_card",
    "unknown_command_card",
    "unreadable_card",
    "welcome_card",
]
