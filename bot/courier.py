"""Carrying offers to client contacts in Teams: the one :class:`hub.offers.OfferCourier`, used by
the bot's ``propose`` and by the panel's applications dialog alike.

A contact the bot has talked to is reached through the stored conversation reference. For one it
never met, Relais is installed for them through Graph, then the personal chat is created with the
Bot Connector. Creating a chat needs the connector's service URL and the bot's account, which
Teams only gives in an activity: a turn in Teams passes its own (:class:`hub.offers.Reach`); from
the panel they come from a conversation the bot already has in the firm. When a contact cannot be
reached the offer stays pending, recorded with the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from bot.cards import offer as offer_cards
from bot.commands import card_activity
from bot.proactive import ProactiveSender, Unreachable
from hub import conversations
from hub.errors import RelaisError
from hub.i18n import Translator
from hub.identity import Actor
from hub.offers import (
    Offer,
    Reach,
    Undelivered,
    install_for_contact,
    offer_unreachable,
    remember_contact_conversation,
    remember_offer_message,
    stored_reach,
)
from hub.services import Hub

log = logging.getLogger("relais.bot.courier")


class _NotDelivered(Exception):
    def __init__(self, key: str, why: str, **params: str) -> None:
        super().__init__(why)
        self.key, self.why, self.params = key, why, params


class TeamsCourier:
    """Delivers offer cards proactively (``sender``); installs the Teams app ``teams_app_id``
    (the bot's id, the manifest's) for contacts the bot has never met, when there is one."""

    def __init__(self, hub: Hub, sender: ProactiveSender | None, teams_app_id: str) -> None:
        self.hub = hub
        self.sender = sender
        self.teams_app_id = teams_app_id

    async def deliver(
        self, actor: Actor, offers: Sequence[Offer], reach: Reach | None = None
    ) -> tuple[Undelivered, ...]:
        undelivered: list[Undelivered] = []
        found: list[Reach | None] = [reach] if reach is not None else []
        for offer in offers:
            try:
                await self._deliver(actor, offer, found)
            except _NotDelivered as failure:
                log.warning("offer %s not delivered: %s", offer.access_id, failure.why)
                await offer_unreachable(
                    self.hub,
                    actor,
                    offer.access_id,
                    failure.why,
                    failure.key,
                    **failure.params,
                )
                undelivered.append(Undelivered(offer, failure.key, dict(failure.params)))
        return tuple(undelivered)

    async def _reach(self, actor: Actor, found: list[Reach | None]) -> Reach | None:
        """The turn's reach, else a stored one, looked up once per delivery."""
        if not found:
            found.append(await stored_reach(self.hub, actor))
        return found[0]

    async def _deliver(self, actor: Actor, offer: Offer, found: list[Reach | None]) -> None:
        if self.sender is None:
            raise _NotDelivered("offers.undelivered.no_bot", "no proactive sender")
        reference = await conversations.reference_for(
            self.hub.sessions, actor.firm_id, f"contact:{offer.contact_id}"
        )
        t = Translator("bot", offer.contact_locale)
        user_ids = offer_cards.teams_user_ids(_user_id(reference), offer.contact_object_id)
        activity = card_activity(
            offer_cards.offer_card(t, t.lang, offer, actor.firm_name, user_ids)
        )
        try:
            if reference is not None:
                activity_id = await self.sender.send(reference, activity)
            else:
                reach = await self._reach(actor, found)
                if reach is None:
                    raise _NotDelivered(
                        "offers.undelivered.no_reach",
                        "nobody of the firm has talked to the bot yet",
                        contact=offer.contact_name,
                    )
                if self.teams_app_id:
                    await install_for_contact(self.hub, actor, offer.contact_id, self.teams_app_id)
                reference, activity_id = await self.sender.start(
                    service_url=reach.service_url,
                    tenant_id=reach.tenant_id,
                    user_aad_id=offer.contact_object_id,
                    bot=reach.bot,
                    activity=activity,
                )
                await remember_contact_conversation(self.hub, actor, offer.contact_id, reference)
        except Unreachable as error:
            raise _NotDelivered(
                "offers.undelivered.teams",
                str(error),
                contact=offer.contact_name,
                detail=f"{error.status or '—'}",
            ) from error
        except RelaisError as error:
            params = {k: str(v) for k, v in error.params.items() if isinstance(v, str | int)}
            params.setdefault("contact", offer.contact_name)
            raise _NotDelivered(error.key, str(error), **params) from error
        await remember_offer_message(self.hub, actor, offer.access_id, activity_id)


def _user_id(reference: dict[str, Any] | None) -> str:
    user = (reference or {}).get("user") or {}
    return str(user.get("id") or "")
