"""Universal Actions: a button that runs a verb on the bot and gets the card back in place.

``Action.Execute`` (Adaptive Cards 1.4+, Teams' Universal Actions) sends an ``adaptiveCard/action``
invoke whose answer replaces the card; clients without Universal Actions fall back to the
``Action.Submit`` in ``fallback``, a message whose ``value`` carries the verb under ``relais``
(the bot then updates the card's message itself).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.cards.base import Card, card, paragraph, small, title
from hub.i18n import Translator

VERB = "relais"  # the key of the verb in an Action.Submit fallback's data


def execute(
    label: str,
    verb: str,
    data: Mapping[str, Any] | None = None,
    *,
    style: str | None = None,
    inputs: bool = True,
) -> dict[str, Any]:
    """An ``Action.Execute`` running ``verb`` with ``data`` (plus the card's inputs unless
    ``inputs`` is False), falling back to the same as an ``Action.Submit``."""
    payload = dict(data or {})
    action: dict[str, Any] = {
        "type": "Action.Execute",
        "title": label,
        "verb": verb,
        "data": payload,
    }
    fallback: dict[str, Any] = {
        "type": "Action.Submit",
        "title": label,
        "data": {VERB: verb, **payload},
    }
    if style:
        action["style"] = style
        fallback["style"] = style
    if not inputs:
        action["associatedInputs"] = "none"
        fallback["associatedInputs"] = "none"
    action["fallback"] = fallback
    return action


def button_row(*actions: dict[str, Any]) -> dict[str, Any]:
    """Buttons inside the body (under one item of a list)."""
    return {"type": "ActionSet", "actions": list(actions)}


def field_error(text: str) -> dict[str, Any]:
    """The red line under an input the bot refused (Teams shows its own only for required ones)."""
    return small(text, subtle=False, color="Attention")


def refused_card(t: Translator, reason: str, *, heading_key: str = "action.refused") -> Card:
    """What an action could not do, and why (rights, a wrong state, an unknown item)."""
    return card(title(t(heading_key), color="Attention"), paragraph(reason), lang=t.lang)
