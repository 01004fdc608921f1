"""The card-action machinery: what an ``Action.Execute`` verb (or its ``Action.Submit``
fallback) runs, for whom. The table of verbs itself is ``bot/verbs.py``.

A handler receives a :class:`~bot.turn.Turn` whose ``data`` is the action's data merged with the
card's inputs, and returns the card that replaces the one clicked: Teams shows it in place (the
``adaptiveCard/action`` invoke response); for the fallback the bot updates the message itself.
A refusal from ``hub/`` becomes the card that says why (:func:`bot.errors.error_card`) in
:meth:`ActionTable.run`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.cards.base import Card
from bot.cards.execute import VERB, refused_card
from bot.errors import error_card
from bot.turn import Turn
from hub.errors import RelaisError

log = logging.getLogger(__name__)

STAFF = frozenset({"staff"})
CONTACTS = frozenset({"contact"})

ActionHandler = Callable[[Turn], Awaitable[Card]]


@dataclass(frozen=True)
class CardAction:
    verb: str
    handler: ActionHandler
    audience: frozenset[str] = STAFF
    # Why someone outside the audience is refused (a bot locale key).
    refusal_key: str = "rights.staff_only"


def is_card_action(value: object) -> bool:
    """A message whose value is the Action.Submit fallback of one of our Action.Execute."""
    return isinstance(value, dict) and isinstance(value.get(VERB), str)


class ActionTable:
    def __init__(self, actions: list[CardAction]) -> None:
        self._by_verb = {action.verb: action for action in actions}

    def knows(self, verb: str) -> bool:
        return verb in self._by_verb

    @property
    def verbs(self) -> frozenset[str]:
        return frozenset(self._by_verb)

    async def run(self, turn: Turn, verb: str) -> Card:
        """The card that answers ``verb``: the handler's, or a refusal that says why."""
        action = self._by_verb.get(verb)
        if action is None:
            return refused_card(turn.t, turn.t("action.unknown"))
        if turn.actor.kind not in action.audience:
            log.info("%s refused to %s", verb, turn.actor.ref)
            return refused_card(turn.t, turn.t(action.refusal_key))
        try:
            return await action.handler(turn)
        except RelaisError as error:
            log.info("%s refused: %s", verb, error)
            return error_card(turn.t, error)


def action_data(value: Mapping[str, Any] | None) -> dict[str, Any]:
    """The action's data and inputs, without the fallback's verb key."""
    return {k: v for k, v in (value or {}).items() if k != VERB}
