"""The Teams port: what the offers need from Teams, and the data a card is built from.

hub/ decides who gets which offer, records and reports; the Teams face implements
:class:`TeamsPort` ("send this card to this person") with its proactive sender and its card
builders. The composition root builds it and hands it to the hub's services
(:attr:`hub.services.Hub.teams`); without one (a server that runs no bot) offers stay pending.

This module imports nothing of the hub's use-cases, so the hub's services may name the port.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

Reference = dict[str, Any]  # a Bot Framework conversation reference, as stored


@dataclass(frozen=True)
class Offer:
    """One offer made, with what the bot needs to reach the contact."""

    access_id: int
    application: str
    description: str
    dossier_code: str
    dossier_name: str
    contact_id: int
    contact_name: str
    contact_object_id: str
    contact_locale: str
    proposed_by: str  # the accountant's display name


@dataclass(frozen=True)
class Answer:
    access_id: int
    accepted: bool
    application: str
    description: str
    dossier_code: str
    dossier_name: str
    contact_name: str
    proposer: str  # "staff:<id>", to tell them in Teams ("" when unknown)
    proposer_name: str
    proposer_locale: str
    activity_id: str


@dataclass(frozen=True)
class Reach:
    """Where the bot speaks from in the firm's Teams: the Bot Connector's service URL, the bot's
    account and the tenant. A turn in Teams carries them; the panel takes them from a
    conversation the bot already has in the firm."""

    service_url: str
    bot: dict[str, Any]
    tenant_id: str


class TeamsUnreachable(Exception):
    """Teams did not take the card (``status`` 0: no answer at all)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status}: {reason}")
        self.status = status
        self.reason = reason


class TeamsPort(Protocol):
    """Sends a card to a person in Teams; the face builds the card from the data given, in the
    person's language. Each method raises :class:`TeamsUnreachable` when Teams does not take it."""

    @property
    def teams_app_id(self) -> str:
        """The Teams app to install for a contact the bot never met ("" when none, the demo)."""
        ...

    async def send_offer(self, reference: Reference, offer: Offer, firm_name: str) -> str:
        """The offer's card into a conversation the bot has; returns the message's id."""
        ...

    async def open_with_offer(
        self, reach: Reach, offer: Offer, firm_name: str
    ) -> tuple[Reference, str]:
        """Open the personal chat with the offer's contact and send the offer's card there;
        returns the new conversation's reference and the message's id."""
        ...

    async def send_answer(self, reference: Reference, answer: Answer) -> None:
        """Tell the accountant who proposed that the contact answered."""
        ...
