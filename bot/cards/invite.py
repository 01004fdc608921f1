"""The ``invite`` card: a form (name, email, dossier), then the invitation's state in the same card."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.cards.base import Card, card, open_url, paragraph, plain, title
from bot.cards.execute import execute, field_error
from hub.contacts import InvitationView
from hub.i18n import Translator

SEND = "invite.send"
CHECK = "invite.check"
OPEN = "invite.open"
DOSSIERS = "dossiers"  # the typeahead's dataset (bot/search.py)
FIELDS = ("first_name", "last_name", "email", "dossier")


def dossier_choices(dossiers: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"title": f"{code} — {name}", "value": code} for code, name in dossiers]


def dossier_input(
    t: Translator, dossiers: Sequence[tuple[str, str]], value: str = "", error: str = ""
) -> list[dict[str, Any]]:
    """A dossier chosen among a few static choices or found by typing (Teams' typeahead asks the
    bot, ``application/search`` with the ``dossiers`` dataset)."""
    choices = dossier_choices(dossiers)
    if value and value not in {c["value"] for c in choices}:
        choices.insert(0, {"title": value, "value": value})
    if not choices:  # no dossier to offer: a typed code (the rights are checked on sending)
        return _text_input(t, "dossier", value, error)
    block: dict[str, Any] = {
        "type": "Input.ChoiceSet",
        "id": "dossier",
        "label": t("invite.field.dossier"),
        "placeholder": t("invite.field.dossier_placeholder"),
        "style": "compact",
        "isRequired": True,
        "errorMessage": t("invite.field.dossier_missing"),
        "choices": choices,
        "choices.data": {"type": "Data.Query", "dataset": DOSSIERS},
    }
    if value:
        block["value"] = value
    return [block, field_error(error)] if error else [block]


def _text_input(
    t: Translator, name: str, value: str, error: str, *, style: str | None = None
) -> list[dict[str, Any]]:
    block: dict[str, Any] = {
        "type": "Input.Text",
        "id": name,
        "label": t(f"invite.field.{name}"),
        "isRequired": True,
        "errorMessage": t(f"invite.field.{name}_missing"),
        "maxLength": 320 if name == "email" else 100,
    }
    if style:
        block["style"] = style
    if value:
        block["value"] = value
    return [block, field_error(error)] if error else [block]


def invite_form_card(
    t: Translator,
    dossiers: Sequence[tuple[str, str]],
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    notice: str = "",
) -> Card:
    """The form; after a refused attempt, the values kept and each error under its field."""
    values, errors = values or {}, errors or {}
    body: list[dict[str, Any]] = [title(t("invite.title")), paragraph(t("invite.intro"))]
    if notice:
        body.append({**paragraph(notice), "color": "Attention"})
    body += _text_input(t, "first_name", values.get("first_name", ""), errors.get("first_name", ""))
    body += _text_input(t, "last_name", values.get("last_name", ""), errors.get("last_name", ""))
    body += _text_input(t, "email", values.get("email", ""), errors.get("email", ""), style="Email")
    body += dossier_input(t, dossiers, values.get("dossier", ""), errors.get("dossier", ""))
    return card(*body, actions=[execute(t("invite.send"), SEND, style="positive")], lang=t.lang)


def _status(t: Translator, view: InvitationView) -> str:
    if view.guest_state == "guest":
        return t("invite.status.guest")
    return t(f"invite.status.{view.status or 'none'}")


def invite_result_card(t: Translator, view: InvitationView, dossier: str) -> Card:
    """The invitation as it stands: sent (pending, with the acceptance link), already a guest,
    accepted; "check again" while it is pending."""
    outcome = view.outcome or "checked"
    if view.guest_state == "guest" and outcome == "checked":
        outcome = "accepted"
    contact, email = plain(view.contact_name), plain(view.email)
    heading = t(f"invite.outcome.{outcome}.title", contact=contact)
    facts = [
        {"title": t("invite.fact.contact"), "value": contact},
        {"title": t("invite.fact.email"), "value": email},
        {"title": t("invite.fact.dossier"), "value": plain(dossier)},
        {"title": t("invite.fact.status"), "value": _status(t, view)},
    ]
    body: list[dict[str, Any]] = [
        title(heading, color="Good" if view.guest_state == "guest" else "Default"),
        paragraph(t(f"invite.outcome.{outcome}.body", contact=contact, email=email)),
        {"type": "FactSet", "facts": facts},
    ]
    if view.error:
        body.append(paragraph(t("invite.failed_reason", reason=plain(view.error)), subtle=True))
    actions: list[dict[str, Any]] = []
    if view.status == "pending" and view.guest_state != "guest":
        if view.redeem_url:
            actions.append(open_url(t("invite.redeem"), view.redeem_url))
        actions.append(
            execute(
                t("invite.check"),
                CHECK,
                {"invitation": view.invitation_id, "dossier": dossier},
                inputs=False,
            )
        )
    if view.guest_state == "guest":
        body.append(paragraph(t("invite.next_propose"), subtle=True))
        actions.append(
            execute(
                t("invite.propose"),
                "propose.apps",
                {"dossier": dossier, "contact": str(view.contact_id)},
                inputs=False,
            )
        )
    return card(*body, actions=actions or None, lang=t.lang)


def consent_card(t: Translator, contact: str, link: str, values: Mapping[str, str]) -> Card:
    """The seed's error: the contact cannot be invited until an administrator grants consent."""
    return card(
        title(t("invite.consent.title"), color="Attention"),
        # The link is Relais' own consent address, left as it is for Teams to make it clickable.
        paragraph(t("invitations.consent_missing", contact=plain(contact), link=link)),
        paragraph(t("invite.consent.next"), subtle=True),
        actions=[
            open_url(t("invitations.grant_link"), link),
            execute(t("invite.try_again"), SEND, dict(values), inputs=False),
        ],
        lang=t.lang,
    )
