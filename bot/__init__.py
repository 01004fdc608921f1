"""The Teams face: the Bot Framework endpoint, the activity handler, the command table, the cards.

A map: ``endpoint`` (``/api/messages``; :func:`connect` and :func:`setup`, what the composition
root calls) → ``handler`` (only routes) → a :class:`~bot.turn.Turn` (``turn``) to the command
table (``commands``), the card-verb table (``verbs``, on ``actions``), the typeahead table
(``search``) or the file intake (``attachments``). The handlers live by capability
(``history``, ``offering``) and call ``hub/``; every card is built in ``cards/``; a refusal
from ``hub/`` becomes a card in one place (``errors``). Messages the bot starts itself go
through ``proactive`` (``notices``; ``teams``, the offers' Teams port).

botbuilder is imported only here, so that the move to the Microsoft 365 Agents SDK stays a change
of this one folder.
"""

from bot.endpoint import connect, setup

__all__ = ["connect", "setup"]
