"""A refusal from ``hub/`` (:class:`~hub.errors.RelaisError`) as the person reads it: the one
place where an error becomes words and a card.

The error's own message (its ``key``) with its parameters, in the person's language; when the
catalog has no such message, its family's (``error.permission_denied``...). Commands and card
actions let refusals rise to the handler and the action table, which call :func:`error_card`;
the file intake, which reports each file on one receipt, calls :func:`reason`.
"""

from __future__ import annotations

from typing import Any

from bot.cards.base import Card, plain
from bot.cards.execute import refused_card
from hub.errors import RelaisError
from hub.i18n import Translator


def _shown(value: Any) -> str | int | None:
    return value if isinstance(value, str | int) else None


def reason(t: Translator, error: RelaisError, **context: str) -> str:
    """Why ``error`` refused, in ``t``'s language; ``context`` fills what the error does not say
    (the file's name on the receipt)."""
    params: dict[str, Any] = dict(context)
    params.update({k: v for k, v in error.params.items() if _shown(v) is not None})
    if isinstance(params.get("limit"), int):
        params["limit"] = t.size(params["limit"])
    # What the error quotes (a file name, a typed code) is outside text on a card.
    params = {k: plain(v) if isinstance(v, str) else v for k, v in params.items()}
    text = t(error.key, **params)
    if text == error.key:
        text = t(type(error).key, why="").strip()
    return text


def error_card(t: Translator, error: RelaisError) -> Card:
    """The card that answers a refused command or action: what could not be done, and why."""
    return refused_card(t, reason(t, error))
