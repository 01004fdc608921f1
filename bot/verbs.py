"""The card-action table the bot answers with: every ``Action.Execute`` verb, its handler and who
may press it. A new button is a new row here; its handler lives beside the command it belongs to.
"""

from __future__ import annotations

from bot.actions import CONTACTS, ActionTable, CardAction
from bot.cards import failures as failure_cards
from bot.cards import history as history_cards
from bot.cards import invite as invite_cards
from bot.cards import offer as offer_cards
from bot.cards import propose as propose_cards
from bot.history import failures_more, failures_retry, history_more
from bot.offering import (
    invite_check,
    invite_open,
    invite_send,
    offer_accept,
    offer_decline,
    offer_refresh,
    propose_apps,
    propose_contacts,
    propose_send,
)


def default_actions() -> ActionTable:
    return ActionTable(
        [
            CardAction(invite_cards.SEND, invite_send),
            CardAction(invite_cards.CHECK, invite_check),
            CardAction(invite_cards.OPEN, invite_open),
            CardAction(propose_cards.CONTACTS, propose_contacts),
            CardAction(propose_cards.APPS, propose_apps),
            CardAction(propose_cards.SEND, propose_send),
            CardAction(offer_cards.ACCEPT, offer_accept, CONTACTS, "offers.not_yours"),
            CardAction(offer_cards.DECLINE, offer_decline, CONTACTS, "offers.not_yours"),
            CardAction(offer_cards.REFRESH, offer_refresh, CONTACTS, "offers.not_yours"),
            CardAction(history_cards.MORE, history_more, frozenset({"staff", "contact"})),
            CardAction(failure_cards.MORE, failures_more),
            CardAction(failure_cards.RETRY, failures_retry),
        ]
    )
