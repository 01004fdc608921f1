"""The card-action table: what each ``Action.Execute`` verb (or its ``Action.Submit`` fallback)
does, for whom. A new button is a new row, not a new branch.

A handler receives an :class:`ActionTurn` (who, their language, the action's data merged with the
card's inputs) and returns the card that replaces the one clicked: Teams shows it in place (the
``adaptiveCard/action`` invoke response); for the fallback the bot updates the message itself.
Refusals from ``hub/`` become a card that says why, in one place (:meth:`ActionTable.run`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botbuilder.core import TurnContext

from bot.cards.base import Card
from bot.cards.execute import VERB, refused_card
from bot.proactive import ProactiveSender
from hub.errors import RelaisError
from hub.i18n import Translator
from hub.identity import Actor
from hub.services import Hub

log = logging.getLogger("relais.bot.actions")

STAFF = frozenset({"staff"})
CONTACTS = frozenset({"contact"})
SERVICES = "relais.services"  # the turn-state key of :class:`BotServices`


@dataclass(frozen=True)
class BotServices:
    """What the bot's commands and actions use besides the turn: the use-cases, the proactive
    sender, and the Teams app id to install for a contact (the manifest's id is the bot's)."""

    hub: Hub
    sender: ProactiveSender | None
    teams_app_id: str
    panel_url: str


@dataclass
class ActionTurn:
    context: TurnContext
    actor: Actor
    t: Translator
    data: dict[str, Any]
    services: BotServices
    tenant: str

    @property
    def lang(self) -> str:
        return self.t.lang

    @property
    def hub(self) -> Hub:
        return self.services.hub

    def text(self, name: str) -> str:
        value = self.data.get(name)
        return value.strip() if isinstance(value, str) else "" if value is None else str(value)


ActionHandler = Callable[[ActionTurn], Awaitable[Card]]


@dataclass(frozen=True)
class CardAction:
    verb: str
    handler: ActionHandler
    audience: frozenset[str] = STAFF
    # Why someone outside the audience is refused (a bot locale key).
    refusal_key: str = "rights.staff_only"


def reason_text(t: Translator, error: RelaisError) -> str:
    """The refusal in the person's language: the error's own message, else its family's."""
    params = {k: v for k, v in error.params.items() if isinstance(v, str | int)}
    try:
        text = t(error.key, **params)
    except (KeyError, IndexError, ValueError):
        text = error.key
    if text == error.key:
        text = t(type(error).key, why="").strip()
    return text


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

    async def run(self, turn: ActionTurn, verb: str) -> Card:
        """The card that answers ``verb``: the handler's, or a refusal that says why."""
        action = self._by_verb.get(verb)
        if action is None:
            return refused_card(turn.t, turn.lang, turn.t("action.unknown"))
        if turn.actor.kind not in action.audience:
            log.info("%s refused to %s", verb, turn.actor.ref)
            return refused_card(turn.t, turn.lang, turn.t(action.refusal_key))
        try:
            return await action.handler(turn)
        except RelaisError as error:
            log.info("%s refused: %s", verb, error)
            return refused_card(turn.t, turn.lang, reason_text(turn.t, error))


def action_data(value: Mapping[str, Any] | None) -> dict[str, Any]:
    """The action's data and inputs, without the fallback's verb key."""
    return {k: v for k, v in (value or {}).items() if k != VERB}
