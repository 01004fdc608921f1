"""The offer a contact receives in Teams (Accept / Decline), the same card once answered, and the
short card that tells the proposing accountant."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.cards.base import Card, card, paragraph, title
from bot.cards.execute import execute
from hub.offers import Answer, Offer

T = Callable[..., str]

ACCEPT = "offer.accept"
DECLINE = "offer.decline"


def _facts(t: T, dossier: str, name: str, proposer: str) -> dict[str, Any]:
    return {
        "type": "FactSet",
        "facts": [
            {"title": t("offer.fact.dossier"), "value": f"{dossier} — {name}"},
            {"title": t("offer.fact.proposed_by"), "value": proposer},
        ],
    }


def offer_card(t: T, lang: str, offer: Offer, firm: str) -> Card:
    data = {"access": offer.access_id}
    return card(
        title(t("offer.title", application=offer.application)),
        paragraph(t("offer.intro", proposer=offer.proposed_by, firm=firm)),
        {**paragraph(offer.description), "isSubtle": True},
        _facts(t, offer.dossier_code, offer.dossier_name, offer.proposed_by),
        actions=[
            execute(t("offer.accept"), ACCEPT, data, style="positive", inputs=False),
            execute(t("offer.decline"), DECLINE, data, style="destructive", inputs=False),
        ],
        lang=lang,
    )


def answered_card(t: T, lang: str, answer: Answer) -> Card:
    """The contact's card after the answer: what they chose, no buttons any more."""
    state = "accepted" if answer.accepted else "declined"
    return card(
        title(
            t(f"offer.{state}.title", application=answer.application),
            color="Good" if answer.accepted else "Default",
        ),
        paragraph(t(f"offer.{state}.body", proposer=answer.proposer_name or "—")),
        {**paragraph(answer.description), "isSubtle": True},
        _facts(t, answer.dossier_code, answer.dossier_name, answer.proposer_name or "—"),
        lang=lang,
    )


def told_card(t: T, lang: str, answer: Answer) -> Card:
    """For the accountant who proposed it: "X accepted A for dossier D"."""
    state = "accepted" if answer.accepted else "declined"
    return card(
        title(
            t(
                f"offer.told.{state}",
                contact=answer.contact_name,
                application=answer.application,
                dossier=answer.dossier_code,
            ),
            color="Good" if answer.accepted else "Default",
        ),
        paragraph(t(f"offer.told.{state}_hint", dossier=answer.dossier_code), subtle=True),
        lang=lang,
    )
