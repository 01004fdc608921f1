"""The bot's side of the offers' Teams port (:class:`hub.offers.TeamsPort`): "send this card to
this person", with the proactive sender and the offer cards.

``hub.offers`` decides who gets which offer, installs the app, records and reports; here the
card is built in the person's language and sent, to a stored conversation or in a personal chat
opened for the occasion. Teams refusing a card (:class:`~bot.proactive.Unreachable`, after the
sender's retries) is told to the hub as :class:`~hub.offers.TeamsUnreachable`.
"""

from __future__ import annotations

from botbuilder.schema import Activity

from bot.cards import offer as offer_cards
from bot.proactive import ProactiveSender, Unreachable
from bot.turn import card_activity
from hub.i18n import Translator
from hub.offers import Answer, Offer, Reach, Reference, TeamsUnreachable


class TeamsCards:
    """Implements :class:`hub.offers.TeamsPort`; ``teams_app_id`` is the bot's id (the
    manifest's, or the demo's own), installed for contacts the bot never met."""

    def __init__(self, sender: ProactiveSender, teams_app_id: str) -> None:
        self.sender = sender
        self._teams_app_id = teams_app_id

    @property
    def teams_app_id(self) -> str:
        return self._teams_app_id

    async def send_offer(self, reference: Reference, offer: Offer, firm_name: str) -> str:
        activity = _offer_activity(offer, firm_name, _user_id(reference))
        try:
            return await self.sender.send(reference, activity)
        except Unreachable as error:
            raise TeamsUnreachable(error.status, error.reason) from error

    async def open_with_offer(
        self, reach: Reach, offer: Offer, firm_name: str
    ) -> tuple[Reference, str]:
        activity = _offer_activity(offer, firm_name, "")
        try:
            return await self.sender.start(
                service_url=reach.service_url,
                tenant_id=reach.tenant_id,
                user_aad_id=offer.contact_object_id,
                bot=reach.bot,
                activity=activity,
            )
        except Unreachable as error:
            raise TeamsUnreachable(error.status, error.reason) from error

    async def send_answer(self, reference: Reference, answer: Answer) -> None:
        t = Translator("bot", answer.proposer_locale)
        try:
            await self.sender.send(reference, card_activity(offer_cards.told_card(t, answer)))
        except Unreachable as error:
            raise TeamsUnreachable(error.status, error.reason) from error


def _offer_activity(offer: Offer, firm_name: str, user_id: str) -> Activity:
    t = Translator("bot", offer.contact_locale)
    user_ids = offer_cards.teams_user_ids(user_id, offer.contact_object_id)
    return card_activity(offer_cards.offer_card(t, offer, firm_name, user_ids))


def _user_id(reference: Reference | None) -> str:
    user = (reference or {}).get("user") or {}
    return str(user.get("id") or "")
