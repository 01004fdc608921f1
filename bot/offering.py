"""Inviting contacts and proposing services from Teams (seed 003 §5, DESIGN.md workflows 5–6):
the ``invite`` and ``propose`` commands, the verbs of their cards, and the offers' answers.

Every decision is a ``hub/`` use-case (rights, one transaction, audit); this module reads the
card's inputs, calls them, reaches people in Teams and picks the card to show.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.actions import (
    SERVICES,
    ActionTurn,
    BotServices,
    reason_text,
)
from bot.cards import invite as invite_cards
from bot.cards import offer as offer_cards
from bot.cards import propose as propose_cards
from bot.cards.base import Card
from bot.cards.execute import refused_card
from bot.commands import Turn, card_activity
from bot.courier import TeamsCourier
from bot.proactive import Unreachable
from hub import conversations
from hub.directory import create_contact
from hub.errors import ConsentMissing, InvalidInput, RelaisError
from hub.i18n import Translator
from hub.invitations import invite_contact, refresh_invitation
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

log = logging.getLogger("relais.bot.offering")

STATIC_DOSSIERS = 10  # static choices beside the typeahead (the most recent dossiers)


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


async def _recent(services: BotServices, turn_actor: Any) -> list[tuple[str, str]]:
    found = await actionable_dossiers(services.hub, turn_actor, limit=STATIC_DOSSIERS)
    return [(d.code, d.name) for d in found]


# --------------------------------------------------------------------------- commands


async def invite_command(turn: Turn) -> None:
    services: BotServices = turn.context.turn_state[SERVICES]
    try:
        dossiers = await _recent(services, turn.actor)
    except RelaisError as error:
        await turn.send_card(refused_card(turn.t, turn.lang, reason_text(turn.t, error)))
        return
    if not dossiers:
        await turn.send_card(refused_card(turn.t, turn.lang, turn.t("offers.no_dossier")))
        return
    values = {"dossier": turn.args.split()[0]} if turn.args else {}
    await turn.send_card(invite_cards.invite_form_card(turn.t, turn.lang, dossiers, values))


async def propose_command(turn: Turn) -> None:
    """``propose`` asks for the dossier; ``propose CEGID001`` goes straight to its contacts."""
    services: BotServices = turn.context.turn_state[SERVICES]
    try:
        if turn.args:
            found = await dossier_contacts(services.hub, turn.actor, turn.args.split()[0])
            card = propose_cards.choose_contact_card(turn.t, turn.lang, found)
        elif dossiers := await _recent(services, turn.actor):
            card = propose_cards.choose_dossier_card(turn.t, turn.lang, dossiers)
        else:
            card = refused_card(turn.t, turn.lang, turn.t("offers.no_dossier"))
    except RelaisError as error:
        card = refused_card(turn.t, turn.lang, reason_text(turn.t, error))
    await turn.send_card(card)


# --------------------------------------------------------------------------- invite verbs


async def invite_send(turn: ActionTurn) -> Card:
    values = {name: turn.text(name) for name in invite_cards.FIELDS}
    errors = {
        name: turn.t(f"invite.field.{name}_missing") for name, value in values.items() if not value
    }
    if errors:
        dossiers = await _recent(turn.services, turn.actor)
        return invite_cards.invite_form_card(turn.t, turn.lang, dossiers, values, errors)
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
        dossiers = await _recent(turn.services, turn.actor)
        field = error.field if error.field in invite_cards.FIELDS else ""
        reason = reason_text(turn.t, error)
        return invite_cards.invite_form_card(
            turn.t,
            turn.lang,
            dossiers,
            values,
            {field: reason} if field else {},
            notice="" if field else reason,
        )
    except ConsentMissing as error:
        return invite_cards.consent_card(
            turn.t,
            turn.lang,
            str(error.params.get("contact") or f"{values['first_name']} {values['last_name']}"),
            str(error.params.get("link") or f"{turn.services.panel_url}tenant"),
            values,
        )
    return invite_cards.invite_result_card(turn.t, turn.lang, view, values["dossier"])


async def invite_check(turn: ActionTurn) -> Card:
    invitation = _int(turn.data.get("invitation"))
    if invitation is None:
        raise InvalidInput("no invitation id", key="invitations.none")
    view = await refresh_invitation(turn.hub, turn.actor, invitation)
    return invite_cards.invite_result_card(turn.t, turn.lang, view, turn.text("dossier"))


async def invite_open(turn: ActionTurn) -> Card:
    """ "Invite first" from the propose card: the invite form, filled in."""
    values = {name: turn.text(name) for name in invite_cards.FIELDS}
    dossiers = await _recent(turn.services, turn.actor)
    return invite_cards.invite_form_card(turn.t, turn.lang, dossiers, values)


# --------------------------------------------------------------------------- propose verbs


async def propose_contacts(turn: ActionTurn) -> Card:
    code = turn.text("dossier")
    if not code:
        dossiers = await _recent(turn.services, turn.actor)
        return propose_cards.choose_dossier_card(
            turn.t, turn.lang, dossiers, turn.t("invite.field.dossier_missing")
        )
    found = await dossier_contacts(turn.hub, turn.actor, code)
    return propose_cards.choose_contact_card(turn.t, turn.lang, found)


async def _apps_card(turn: ActionTurn, code: str, contact_id: int | None, notice: str = "") -> Card:
    contact = None
    if contact_id is not None:
        found = await dossier_contacts(turn.hub, turn.actor, code)
        chosen = next((c for c in found.eligible if c.id == contact_id), None)
        if chosen is None:
            return propose_cards.choose_contact_card(turn.t, turn.lang, found)
        contact = (chosen.id, chosen.name)
    apps = await proposable(turn.hub, turn.actor, code, contact_id, turn.lang)
    if contact is not None and not notice:
        missing = await offer_permissions_missing(turn.hub, turn.actor)
        if missing:
            notice = turn.t("offers.partial_consent", permissions=", ".join(missing))
    return propose_cards.choose_apps_card(turn.t, turn.lang, code, contact, apps, notice)


async def propose_apps(turn: ActionTurn) -> Card:
    raw = turn.text("contact")
    contact_id = None if raw in ("", propose_cards.NO_CONTACT) else _int(raw)
    return await _apps_card(turn, turn.text("dossier"), contact_id)


async def propose_send(turn: ActionTurn) -> Card:
    code = turn.text("dossier")
    raw = turn.text("contact")
    contact_id = None if raw in ("", propose_cards.NO_CONTACT) else _int(raw)
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
    incoming = turn.context.activity
    reach = Reach(
        service_url=incoming.service_url or "",
        bot=incoming.recipient.serialize() if incoming.recipient else {},
        tenant_id=turn.tenant,
    )
    undelivered = await deliver_offers(
        turn.hub, turn.actor, proposal.offers, courier(turn.services), reach
    )
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
    return propose_cards.summary_card(turn.t, turn.lang, summary)


def courier(services: BotServices) -> TeamsCourier:
    """The offer courier, on the bot's sender (the panel's is built the same way)."""
    return TeamsCourier(services.hub, services.sender, services.teams_app_id)


# --------------------------------------------------------------------------- the contact's answer


async def _answer(turn: ActionTurn, accept: bool) -> Card:
    access = _int(turn.data.get("access"))
    if access is None:
        raise InvalidInput("no offer id", key="offers.unknown")
    answer = await answer_offer(turn.hub, turn.actor, access, accept)
    sender = turn.services.sender
    if answer.proposer and sender is not None:
        reference = await conversations.reference_for(
            turn.hub.sessions, turn.actor.firm_id, answer.proposer
        )
        if reference is not None:
            t = Translator("bot", answer.proposer_locale)
            try:
                await sender.send(
                    reference, card_activity(offer_cards.told_card(t, t.lang, answer))
                )
            except Unreachable as error:
                log.warning("could not tell %s about offer %s: %s", answer.proposer, access, error)
    return offer_cards.answered_card(turn.t, turn.lang, answer, _user_ids(turn))


async def offer_accept(turn: ActionTurn) -> Card:
    return await _answer(turn, True)


async def offer_decline(turn: ActionTurn) -> Card:
    return await _answer(turn, False)


async def offer_refresh(turn: ActionTurn) -> Card:
    """Teams shows the contact's offer card again (``trigger`` automatic) or they asked for it:
    the offer as it stands now."""
    access = _int(turn.data.get("access"))
    if access is None:
        raise InvalidInput("no offer id", key="offers.unknown")
    status = await offer_status(turn.hub, turn.actor, access)
    return offer_cards.current_card(
        turn.t, turn.lang, status, turn.actor.firm_name, _user_ids(turn)
    )


def _user_ids(turn: ActionTurn) -> tuple[str, ...]:
    person = turn.context.activity.from_property
    return offer_cards.teams_user_ids(
        str(person.id or "") if person else "", str(person.aad_object_id or "") if person else ""
    )
