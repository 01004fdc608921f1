"""The ``propose`` card, in three steps in the same card: the dossier, the contact, the applications;
then what was done."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.cards.base import Card, card, paragraph, plain, title
from bot.cards.execute import button_row, execute
from bot.cards.invite import OPEN, dossier_input
from hub.i18n import Translator
from hub.offers import DossierContacts, Proposable

CONTACTS = "propose.contacts"
APPS = "propose.apps"
SEND = "propose.send"
NO_CONTACT = "none"
APP_INPUT = "app_"  # the toggles' ids: app_<firm application id>


def choose_dossier_card(
    t: Translator, dossiers: Sequence[tuple[str, str]], error: str = ""
) -> Card:
    return card(
        title(t("propose.title")),
        paragraph(t("propose.step1")),
        *dossier_input(t, dossiers, error=error),
        actions=[execute(t("propose.next"), CONTACTS)],
        lang=t.lang,
    )


def choose_contact_card(t: Translator, dossier: DossierContacts) -> Card:
    """Step 2: the dossier's guests, or no contact; the others listed greyed with "invite first"."""
    heading = t("propose.title_for", dossier=plain(dossier.code), name=plain(dossier.name))
    choices = [{"title": f"{c.name} ({c.email})", "value": str(c.id)} for c in dossier.eligible]
    choices.append({"title": t("propose.no_contact"), "value": NO_CONTACT})
    body: list[dict[str, Any]] = [
        title(heading),
        paragraph(t("propose.step2", dossier=plain(dossier.code))),
        {
            "type": "Input.ChoiceSet",
            "id": "contact",
            "label": t("propose.field.contact"),
            "style": "expanded",
            "isRequired": True,
            "errorMessage": t("propose.field.contact_missing"),
            "value": choices[0]["value"],
            "choices": choices,
        },
    ]
    waiting = [c for c in dossier.contacts if not c.eligible]
    if waiting:
        body.append({**paragraph(t("propose.not_ready")), "weight": "Bolder", "spacing": "Large"})
    for contact in waiting:
        first, _, last = contact.name.partition(" ")
        body.append(
            {
                "type": "Container",
                "spacing": "Small",
                "items": [
                    {
                        "type": "TextBlock",
                        "text": plain(f"{contact.name} ({contact.email})"),
                        "wrap": True,
                        "isSubtle": True,
                    },
                    {
                        "type": "TextBlock",
                        "text": t(contact.reason),
                        "wrap": True,
                        "isSubtle": True,
                        "size": "Small",
                        "spacing": "None",
                    },
                    button_row(
                        execute(
                            t("propose.invite_first"),
                            OPEN,
                            {
                                "contact": str(contact.id),
                                "dossier": dossier.code,
                                "first_name": first,
                                "last_name": last,
                                "email": contact.email,
                            },
                            inputs=False,
                        )
                    ),
                ],
            }
        )
    return card(
        *body,
        actions=[execute(t("propose.next"), APPS, {"dossier": dossier.code})],
        lang=t.lang,
    )


def choose_apps_card(
    t: Translator,
    dossier: str,
    contact: tuple[int, str] | None,
    apps: Sequence[Proposable],
    notice: str = "",
) -> Card:
    """Step 3: the applications (with a contact: those that need one; without: the others),
    each with its description, as toggles."""
    who = (
        t("propose.step3_contact", contact=plain(contact[1]))
        if contact
        else t("propose.step3_dossier", dossier=plain(dossier))
    )
    body: list[dict[str, Any]] = [
        title(t("propose.title_apps", dossier=plain(dossier))),
        paragraph(who),
    ]
    if notice:
        body.append({**paragraph(notice), "color": "Attention"})
    if not apps:
        body.append(paragraph(t("propose.no_apps"), subtle=True))
        return card(*body, lang=t.lang)
    for app in apps:
        body.append(
            {
                "type": "Container",
                "spacing": "Medium",
                "separator": True,
                "items": [
                    {
                        "type": "Input.Toggle",
                        "id": f"{APP_INPUT}{app.id}",
                        "title": app.label,
                        "value": "false",
                        "valueOn": "true",
                        "valueOff": "false",
                        "wrap": True,
                    },
                    {
                        "type": "TextBlock",
                        "text": plain(app.description),
                        "wrap": True,
                        "isSubtle": True,
                        "size": "Small",
                        "spacing": "None",
                    },
                ],
            }
        )
    data = {"dossier": dossier, "contact": str(contact[0]) if contact else NO_CONTACT}
    label = t("propose.send") if contact else t("propose.switch_on")
    return card(*body, actions=[execute(label, SEND, data, style="positive")], lang=t.lang)


@dataclass(frozen=True)
class Summary:
    dossier: str
    contact: str = ""  # "" when proposed without a contact
    offered: tuple[str, ...] = ()
    switched_on: tuple[str, ...] = ()
    already: tuple[str, ...] = ()
    unreachable: tuple[str, ...] = ()


def summary_card(t: Translator, summary: Summary) -> Card:
    """What was done: offered to X (A, B), switched on, already held, not reachable."""
    body: list[dict[str, Any]] = [title(t("propose.done.title", dossier=plain(summary.dossier)))]
    contact = plain(summary.contact)
    facts: list[dict[str, str]] = []
    if summary.offered:
        facts.append(
            {
                "title": t("propose.done.offered", contact=contact),
                "value": ", ".join(plain(x) for x in summary.offered),
            }
        )
    if summary.switched_on:
        facts.append(
            {
                "title": t("propose.done.switched_on"),
                "value": ", ".join(plain(x) for x in summary.switched_on),
            }
        )
    if summary.already:
        facts.append(
            {
                "title": t("propose.done.already"),
                "value": ", ".join(plain(x) for x in summary.already),
            }
        )
    if summary.unreachable:
        facts.append(
            {
                "title": t("propose.done.unreachable"),
                "value": ", ".join(plain(x) for x in summary.unreachable),
            }
        )
    body.append({"type": "FactSet", "facts": facts})
    if summary.unreachable:
        body.append(
            {
                **paragraph(t("propose.done.unreachable_hint", contact=contact)),
                "color": "Warning",
            }
        )
    elif summary.offered:
        body.append(paragraph(t("propose.done.offered_hint", contact=contact), subtle=True))
    return card(*body, lang=t.lang)
