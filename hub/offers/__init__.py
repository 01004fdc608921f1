"""Proposing services (seed 003 §5): offers to a client contact, answered in Teams.

An offer is a ``ContactAccess`` in state ``offered``; the contact accepts (``accepted``) or
declines (``declined``). Applications that need no contact are switched on for the dossier at
once. Both faces propose here — the bot with :func:`propose`, the panel's applications dialog
with :func:`save_applications` — then hand the offers made to :func:`deliver_offers`, which
decides how each contact is reached, records what stayed pending and why, and reports it. The
Teams face only supplies the :class:`TeamsPort` ("send this card to this person"), given to the
hub's services by the composition root.

Modules: ``choose`` (dossiers and contacts to propose to), ``propose`` (recording offers),
``reach`` (delivering them), ``answer`` (the contact's answer), ``port`` (the Teams port and the
data its cards are built from), ``records`` (the rows, shared by the use-cases).
"""

from hub.offers.answer import OfferStatus, answer_offer, offer_status
from hub.offers.choose import (
    SEARCH_LIMIT,
    DossierChoice,
    DossierContacts,
    actionable_dossiers,
    dossier_contacts,
)
from hub.offers.propose import (
    Proposable,
    Proposal,
    SaveResult,
    proposable,
    propose,
    save_applications,
)
from hub.offers.reach import (
    Undelivered,
    deliver_offers,
    install_for_contact,
    offer_unreachable,
    remember_contact_conversation,
    remember_offer_message,
    stored_reach,
)
from hub.ports import Answer, Offer, Reach, Reference, TeamsPort, TeamsUnreachable

__all__ = [
    "SEARCH_LIMIT",
    "Answer",
    "DossierChoice",
    "DossierContacts",
    "Offer",
    "OfferStatus",
    "Proposable",
    "Proposal",
    "Reach",
    "Reference",
    "SaveResult",
    "TeamsPort",
    "TeamsUnreachable",
    "Undelivered",
    "actionable_dossiers",
    "answer_offer",
    "deliver_offers",
    "dossier_contacts",
    "install_for_contact",
    "offer_status",
    "offer_unreachable",
    "proposable",
    "propose",
    "remember_contact_conversation",
    "remember_offer_message",
    "save_applications",
    "stored_reach",
]
