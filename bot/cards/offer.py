"""The offer a contact receives in Teams (Accept / Decline), the same card once answered or
withdrawn, and the short card that tells the proposing accountant.

The contact's cards carry a ``refresh`` (Universal Actions): when Teams shows the card again it
asks the bot for the offer as it stands (:data:`REFRESH`), so an offer answered elsewhere or
withdrawn from the panel never shows stale buttons. ``userIds`` names who gets the automatic
refresh: Teams user MRIs — the ``29:…`` id of a conversation's activities, and the tenant-wide
``8:orgid:{Entra object id}``. (A personal chat has two members, under Teams' limit of 60 within
which every member is refreshed anyway; the ids are named since the docs ask for them always.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.cards.base import Card, card, paragraph, plain, title
from bot.cards.execute import VERB, execute
from hub.i18n import Translator
from hub.offers import Answer, Offer, OfferStatus

ACCEPT = "offer.accept"
DECLINE = "offer.decline"
REFRESH = "offer.refresh"


def teams_user_ids(user_id: str, object_id: str) -> tuple[str, ...]:
    """The contact's Teams user MRIs, for ``refresh.userIds``."""
    ids = [user_id] if user_id.startswith("29:") else []
    if object_id:
        ids.append(f"8:orgid:{object_id}")
    return tuple(ids)


def _refreshing(result: Card, access_id: int, user_ids: Sequence[str]) -> Card:
    if user_ids:
        result["refresh"] = {
            # Like every Action.Execute of the bot, with its Action.Submit fallback (no title:
            # nobody presses it).
            "action": {
                "type": "Action.Execute",
                "verb": REFRESH,
                "data": {"access": access_id},
                "fallback": {"type": "Action.Submit", "data": {VERB: REFRESH, "access": access_id}},
            },
            "userIds": list(user_ids),
        }
    return result


def _facts(t: Translator, dossier: str, name: str, proposer: str) -> dict[str, Any]:
    return {
        "type": "FactSet",
        "facts": [
            {"title": t("offer.fact.dossier"), "value": plain(f"{dossier} — {name}")},
            {"title": t("offer.fact.proposed_by"), "value": plain(proposer)},
        ],
    }


def offer_card(t: Translator, offer: Offer, firm: str, user_ids: Sequence[str] = ()) -> Card:
    data = {"access": offer.access_id}
    return _refreshing(
        card(
            title(t("offer.title", application=plain(offer.application))),
            paragraph(t("offer.intro", proposer=plain(offer.proposed_by), firm=plain(firm))),
            {**paragraph(plain(offer.description)), "isSubtle": True},
            _facts(t, offer.dossier_code, offer.dossier_name, offer.proposed_by),
            actions=[
                execute(t("offer.accept"), ACCEPT, data, style="positive", inputs=False),
                execute(t("offer.decline"), DECLINE, data, style="destructive", inputs=False),
            ],
            lang=t.lang,
        ),
        offer.access_id,
        user_ids,
    )


def _answered(
    t: Translator, state: str, application: str, proposer: str, description: str, facts: Any
) -> Card:
    return card(
        title(
            t(f"offer.{state}.title", application=plain(application)),
            color="Good" if state == "accepted" else "Default",
        ),
        paragraph(t(f"offer.{state}.body", proposer=plain(proposer or "—"))),
        {**paragraph(plain(description)), "isSubtle": True},
        facts,
        lang=t.lang,
    )


def answered_card(t: Translator, answer: Answer, user_ids: Sequence[str] = ()) -> Card:
    """The contact's card after the answer: what they chose, no buttons any more."""
    return _refreshing(
        _answered(
            t,
            "accepted" if answer.accepted else "declined",
            answer.application,
            answer.proposer_name,
            answer.description,
            _facts(t, answer.dossier_code, answer.dossier_name, answer.proposer_name or "—"),
        ),
        answer.access_id,
        user_ids,
    )


def current_card(
    t: Translator, status: OfferStatus, firm: str, user_ids: Sequence[str] = ()
) -> Card:
    """The contact's card as the offer stands now (what a refresh shows)."""
    offer = status.offer
    if status.state == "offered":
        return offer_card(t, offer, firm, user_ids)
    facts = _facts(t, offer.dossier_code, offer.dossier_name, offer.proposed_by or "—")
    if status.state in ("accepted", "granted", "declined"):
        state = "declined" if status.state == "declined" else "accepted"
        body = _answered(t, state, offer.application, offer.proposed_by, offer.description, facts)
    else:
        body = card(
            title(t("offer.withdrawn.title", application=plain(offer.application))),
            paragraph(t("offer.withdrawn.body", firm=plain(firm))),
            facts,
            lang=t.lang,
        )
    return _refreshing(body, offer.access_id, user_ids)


def told_card(t: Translator, answer: Answer) -> Card:
    """For the accountant who proposed it: "X accepted A for dossier D"."""
    state = "accepted" if answer.accepted else "declined"
    return card(
        title(
            t(
                f"offer.told.{state}",
                contact=plain(answer.contact_name),
                application=plain(answer.application),
                dossier=plain(answer.dossier_code),
            ),
            color="Good" if answer.accepted else "Default",
        ),
        paragraph(t(f"offer.told.{state}_hint", dossier=plain(answer.dossier_code)), subtle=True),
        lang=t.lang,
    )
