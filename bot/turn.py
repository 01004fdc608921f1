"""One turn of a person with the bot, as every command, card action and file intake receives it.

A :class:`Turn` carries the Teams turn (``context``), who is acting (``actor``), their language
(``t``, the translator: it knows its language), the services (the hub's use-cases and the bot's
own, :class:`BotServices`), and what the person gave: a command's ``args`` or a card's ``data``
(the action's data merged with the card's inputs). Handlers take what they need from it; nothing
is kept in ``turn_state``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from botbuilder.core import MessageFactory, TurnContext
from botbuilder.schema import Activity, Attachment

from bot.proactive import ProactiveSender
from hub.i18n import Translator
from hub.identity import Actor
from hub.services import Hub

CARD_TYPE = "application/vnd.microsoft.card.adaptive"


def card_activity(card: dict[str, Any]) -> Activity:
    """The message that carries an Adaptive Card."""
    return MessageFactory.attachment(Attachment(content_type=CARD_TYPE, content=card))


def tenant_of(context: TurnContext) -> str | None:
    """The Microsoft tenant the activity comes from."""
    activity = context.activity
    channel_data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    tenant = channel_data.get("tenant")
    found = tenant.get("id") if isinstance(tenant, dict) else None
    if isinstance(found, str) and found:
        return found
    return activity.conversation.tenant_id if activity.conversation else None


class Commands(Protocol):
    """The command table as a turn sees it (:class:`bot.commands.CommandTable`)."""

    def word_for(self, english: str, lang: str) -> str:
        """The word of the command ``english`` in ``lang`` (for buttons that type a command)."""
        ...

    def help_rows(self, actor: Actor, t: Translator) -> Sequence[tuple[str, str]]:
        """(word, summary) of every command ``help`` shows the actor."""
        ...


@dataclass(frozen=True)
class BotServices:
    """What the bot's handlers use besides the turn: the hub's services, the proactive sender,
    the command table (for ``help`` and buttons that type a command) and the panel's address."""

    hub: Hub
    sender: ProactiveSender
    commands: Commands
    panel_url: str


@dataclass
class Turn:
    context: TurnContext
    actor: Actor
    t: Translator
    services: BotServices
    args: str = ""  # a command's: the rest of the line
    data: dict[str, Any] = field(default_factory=dict)  # a card action's, with the card's inputs

    @property
    def lang(self) -> str:
        return self.t.lang

    @property
    def hub(self) -> Hub:
        return self.services.hub

    @property
    def tenant(self) -> str:
        return tenant_of(self.context) or ""

    def text(self, name: str) -> str:
        """The card's value ``name`` as text, trimmed ("" when absent)."""
        value = self.data.get(name)
        return value.strip() if isinstance(value, str) else "" if value is None else str(value)

    def word(self, english: str) -> str:
        """A command's word in the person's language."""
        return self.services.commands.word_for(english, self.lang)

    async def send_card(self, card: dict[str, Any]) -> None:
        await self.context.send_activity(card_activity(card))
