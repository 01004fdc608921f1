"""The Teams face: the Bot Framework endpoint, the activity handler, the command table, the cards.

botbuilder is imported only here (and by the composition root through :func:`setup`), so that the
move to the Microsoft 365 Agents SDK stays a change of this one folder.
"""

from bot.endpoint import setup

__all__ = ["setup"]
