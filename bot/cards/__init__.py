"""Adaptive card builders: plain functions that return plain dicts (Adaptive Cards 1.5).

Handlers never build cards inline; every card a person can see is made here and validated by the
tests against Microsoft's schema.
"""

from bot.cards.basics import error_card, refusal_card, unknown_command_card
from bot.cards.help import help_card, welcome_card

__all__ = ["error_card", "help_card", "refusal_card", "unknown_command_card", "welcome_card"]
