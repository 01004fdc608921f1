"""Inviting contacts and proposing services from Teams (seed 003 §5, DESIGN.md workflows 5–6):
the ``invite`` and ``propose`` commands, the verbs of their cards, and the offers' answers.

Every decision is a ``hub/`` use-case (rights, one transaction, audit), delivering the offers
included (:func:`hub.offers.deliver_offers`, which reaches people through the bot's
:class:`~bot.teams.TeamsCards`); this module reads the card's inputs, calls them and picks the
card to show. Refusals rise to the handler or the action table (:mod:`bot.errors`).
"""

from __future__ import annotations

import logging
from typing import Any

from bot.cards import invite as invite_cards
from bot.cards import offer as offer_cards
from bot.cards import propose as propose_cards
from bot.cards.base import Card
from bot.cards.execute import refused_card
from bot.errors import reason
from bot.turn import Turn
from hub.contacts import create_contact, invite_contact, refresh_invitation
from hub.errors import ConsentMissing, InvalidInput
from hub.offers import (
    Reach,
    actionable_dossiers,
    answer_offer,
    deliver_offers,
    dossier_contacts,
    offer_status,
    proposable,
    propose,
)
from hub.tenant import offer_permissions_missing

log = logging.getLogger(__name__)

STATIC_DOSSIERS = 10  # static choices beside the typeahead (the most recent dossiers)


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


async def _recent(turn: Turn) -> list[tuple[str, str]]:
    found = await actionable_dossiers(turn.hub, turn.actor, limit=STATIC_DOSSIERS)
    return [(d.code, d.name) for d in found]


# --------------------------------------------------------------------------- commands


async def invite_command(turn: Turn) -> None:
    dossiers = await _recent(turn)
    if not dossiers:
        await turn.send_card(refused_card(turn.t, turn.t("offers.no_dossier")))
        return
    values = {"dossier": turn.args.split()[0]} if turn.args else {}
    await turn.send_card(invite_cards.invite_form_card(turn.t, dossiers, values))


async def propose_command(turn: Turn) -> None:
    """``propose`` asks for the dossier; ``propose CEGID001`` goes straight to its contacts."""
    if turn.args:
        found = await dossier_contacts(turn.hub, turn.actor, turn.args.split()[0])
        card = propose_cards.choose_contact_card(turn.t, found)
    elif dossiers := await _recent(turn):
        card = propose_cards.choose_dossier_card(turn.t, dossiers)
    else:
        card = refused_card(turn.t, turn.t("offers.no_dossier"))
    await turn.send_card(card)


# --------------------------------------------------------------------------- invite verbs


async def invite_send(turn: Turn) -> Card:
    values = {name: turn.text(name) for name in invite_cards.FIELDS}
    errors = {
        name: turn.t(f"invite.field.{name}_missing") for name, value in values.items() if not value
    }
    if errors:
        return invite_cards.invite_form_card(turn.t, await _recent(turn), values, errors)
    try:
        contact = await create_contact(
            turn.hub,
            turn.actor,
            values["first_name"],
            values["last_name"],
            values["email"],
            values["dossier"],
        )
        view = await invite_contact(turn.hub, turn.actor, contact.id, values["dossier"])
    except InvalidInput as error:
        field = error.field if error.field in invite_cards.FIELDS else ""
        why = reason(turn.t, error)
        return invite_cards.invite_form_card(
            turn.t,
            await _recent(turn),
            values,
            {field: why} if field else {},
            notice="" if field else why,
        )
    except ConsentMissing as error:
        return invite_cards.consent_card(
            turn.t,
            str(error.params.get("contact") or f"{values['first_name']} {values['last_name']}"),
            str(error.params.get("link") or f"{turn.services.panel_url}tenant"),
            values,
        )
    return invite_cards.invite_result_card(turn.t, view, values["dossier"])


async def invite_check(turn: Turn) -> Card:
    invitation = _int(turn.data.get("invitation"))
    if invitation is None:
        raise InvalidInput("no invitation id", key="invitations.none")
    view = await refresh_invitation(turn.hub, turn.actor, invitation)
    return invite_cards.invite_result_card(turn.t, view, turn.text("dossier"))


async def invite_open(turn: Turn) -> Card:
    """ "Invite first" from the propose card: the invite form, filled in."""
    values = {name: turn.text(name) for name in invite_cards.FIELDS}
    return invite_cards.invite_form_card(turn.t, await _recent(turn), values)


# --------------------------------------------------------------------------- propose verbs


async def propose_contacts(turn: Turn) -> Card:
    code = turn.text("dossier")
    if not code:
        return propose_cards.choose_dossier_card(
            turn.t, await _recent(turn), turn.t("invite.field.dossier_missing")
        )
    found = await dossier_contacts(turn.hub, turn.actor, code)
    return propose_cards.choose_contact_card(turn.t, found)


async def _apps_card(turn: Turn, code: str, contact_id: int | None, notice: str = "") -> Card:
    contact = None
    if contact_id is not None:
        found = await dossier_contacts(turn.hub, turn.actor, code)
        chosen = next((c for c in found.eligible if c.id == contact_id), None)
        if chosen is None:
            return propose_cards.choose_contact_card(turn.t, found)
        contact = (chosen.id, chosen.name)
    apps = await proposable(turn.hub, turn.actor, code, contact_id, turn.lang)
    if contact is not None and not notice:
        missing = await offer_permissions_missing(turn.hub, turn.actor)
        if missing:
            notice = turn.t("offers.partial_consent", permissions=", ".join(missing))
    return propose_cards.choose_apps_card(turn.t, code, contact, apps, notice)


def _contact_id(turn: Turn) -> int | None:
    raw = turn.text("contact")
    return None if raw in ("", propose_cards.NO_CONTACT) else _int(raw)


async def propose_apps(turn: Turn) -> Card:
    return await _apps_card(turn, turn.text("dossier"), _contact_id(turn))


def _reach(turn: Turn) -> Reach:
    """Where the bot speaks from in this firm's Teams: this turn's connector and bot account."""
    incoming = turn.context.activity
    return Reach(
        service_url=incoming.service_url or "",
        bot=incoming.recipient.serialize() if incoming.recipient else {},
        tenant_id=turn.tenant,
    )


async def propose_send(turn: Turn) -> Card:
    code = turn.text("dossier")
    contact_id = _contact_id(turn)
    chosen = [
        app_id
        for key, value in turn.data.items()
        if key.startswith(propose_cards.APP_INPUT)
        and str(value).lower() == "true"
        and (app_id := _int(key[len(propose_cards.APP_INPUT) :])) is not None
    ]
    if not chosen:
        return await _apps_card(turn, code, contact_id, turn.t("offers.none_chosen"))
    proposal = await propose(turn.hub, turn.actor, code, contact_id, chosen)
    undelivered = await deliver_offers(turn.hub, turn.actor, proposal.offers, _reach(turn))
    unreachable = [u.offer.application for u in undelivered]
    contact_name = proposal.offers[0].contact_name if proposal.offers else ""
    if contact_id is not None and not contact_name:
        found = await dossier_contacts(turn.hub, turn.actor, code)
        contact_name = next((c.name for c in found.contacts if c.id == contact_id), "")
    summary = propose_cards.Summary(
        dossier=code,
        contact=contact_name,
        offered=tuple(o.application for o in proposal.offers if o.application not in unreachable),
        switched_on=proposal.switched_on,
        already=proposal.already,
        unreachable=tuple(unreachable),
    )
    return propose_cards.summary_card(turn.t, summary)


# --------------------------------------------------------------------------- the contact's answer


def _access(turn: Turn) -> int:
    access = _int(turn.data.get("access"))
    if access is None:
        raise InvalidInput("no offer id", key="offers.unknown")
    return access


async def _answer(turn: Turn, accept: bool) -> Card:
    """The answer is recorded and the accountant told by ``hub``; the contact's card changes."""
    answer = await answer_offer(turn.hub, turn.actor, _access(turn), accept)
    return offer_cards.answered_card(turn.t, answer, _user_ids(turn))


async def offer_accept(turn: Turn) -> Card:
    return await _answer(turn, True)


async def offer_decline(turn: Turn) -> Card:
    return await _answer(turn, False)


async def offer_refresh(turn: Turn) -> Card:
    """Teams shows the contact's offer card again (``trigger`` automatic) or they asked for it:
    the offer as it stands now."""
    status = await offer_status(turn.hub, turn.actor, _access(turn))
    return offer_cards.current_card(turn.t, status, turn.actor.firm_name, _user_ids(turn))


def _user_ids(turn: Turn) -> tuple[str, ...]:
    person = turn.context.activity.from_property
    return offer_cards.teams_user_ids(
        str(person.id or "") if person else "", str(person.aad_object_id or "") if person else ""
    )
