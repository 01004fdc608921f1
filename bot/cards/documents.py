"""Cards for files sent to the bot: "where should I file this?" and what became of each file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.cards.base import Card, card, paragraph, plain, title
from hub.i18n import Translator

PLACE = "documents.place"
CANCEL = "documents.cancel"


@dataclass(frozen=True)
class FileOutcome:
    """What became of one file: stored (version, deliveries), identical, or refused (reason)."""

    name: str
    outcome: str  # stored | identical | refused
    dossier: str = ""
    folder: str = ""
    version: int = 0
    deliveries: int = 0
    reason: str = ""


def _choices(pairs: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"title": label, "value": value} for value, label in pairs]


def where_card(
    t: Translator,
    names: Sequence[str],
    dossiers: Sequence[tuple[str, str]],
    folders: Sequence[str],
) -> Card:
    """Ask which dossier (when there is more than one) and which folder (likewise).

    ``dossiers`` is (code, name); the inputs come back in the submit's value as ``dossier`` and
    ``folder``, beside ``relais: documents.place``.
    """
    heading = t.plural("documents.where.title", len(names), name=plain(names[0]))
    body: list[dict[str, Any]] = [title(heading)]
    if len(names) > 1:
        body.append(paragraph(", ".join(plain(n) for n in names), subtle=True))
    if len(dossiers) == 1:
        code, name = dossiers[0]
        body.append(
            {
                "type": "FactSet",
                "facts": [
                    {"title": t("documents.where.dossier"), "value": plain(f"{code} — {name}")}
                ],
            }
        )
    else:
        body.append(
            {
                "type": "Input.ChoiceSet",
                "id": "dossier",
                "label": t("documents.where.dossier"),
                "placeholder": t("documents.where.dossier_placeholder"),
                "style": "compact",
                "isRequired": True,
                "errorMessage": t("documents.where.dossier_missing"),
                "choices": _choices([(code, f"{code} — {name}") for code, name in dossiers]),
            }
        )
    body.append(
        {
            "type": "Input.ChoiceSet",
            "id": "folder",
            "label": t("documents.where.folder"),
            "style": "compact",
            "isRequired": True,
            "errorMessage": t("documents.where.folder_missing"),
            "value": folders[0] if folders else "",
            "choices": _choices([(path, path) for path in folders]),
        }
    )
    data: dict[str, Any] = {"relais": PLACE}
    if len(dossiers) == 1:
        data["dossier"] = dossiers[0][0]
    return card(
        *body,
        actions=[
            {"type": "Action.Submit", "title": t("documents.where.file"), "style": "positive",
             "data": data},
            {"type": "Action.Submit", "title": t("documents.where.cancel"),
             "associatedInputs": "none", "data": {"relais": CANCEL}},
        ],
        lang=t.lang,
    )  # fmt: skip


def _line(t: Translator, outcome: FileOutcome) -> list[dict[str, Any]]:
    """``reason`` is card text already (:func:`bot.errors.reason` escapes what it quotes)."""
    name = plain(outcome.name)
    if outcome.outcome == "refused":
        return [
            {"type": "TextBlock", "text": f"✕ {name}", "weight": "Bolder", "wrap": True,
             "color": "Attention"},
            paragraph(t("documents.refused", reason=outcome.reason)),
        ]  # fmt: skip
    place = t("documents.place", dossier=plain(outcome.dossier), folder=plain(outcome.folder))
    if outcome.outcome == "identical":
        return [
            {"type": "TextBlock", "text": f"= {name}", "weight": "Bolder", "wrap": True},
            paragraph(t("documents.identical", version=outcome.version, place=place)),
        ]
    apps = t.plural("documents.apps", outcome.deliveries)
    return [
        {"type": "TextBlock", "text": f"✓ {name}", "weight": "Bolder", "wrap": True,
         "color": "Good"},
        paragraph(t("documents.stored", version=outcome.version, place=place)),
        paragraph(apps, subtle=True),
    ]  # fmt: skip


def receipt_card(t: Translator, outcomes: Sequence[FileOutcome]) -> Card:
    refused = sum(1 for o in outcomes if o.outcome == "refused")
    if refused == len(outcomes):
        heading, color = t("documents.receipt.none"), "Attention"
    elif refused:
        heading, color = t("documents.receipt.some"), "Warning"
    else:
        heading, color = t("documents.receipt.all"), "Default"
    body: list[dict[str, Any]] = [title(heading, color=color)]
    for outcome in outcomes:
        body.append({"type": "Container", "spacing": "Medium", "items": _line(t, outcome)})
    return card(*body, lang=t.lang)


def notice_card(t: Translator, key: str, **params: Any) -> Card:
    """A title and one sentence: nothing to file, cancelled, no dossier to file into."""
    return card(title(t(f"{key}.title")), paragraph(t(f"{key}.body", **params)), lang=t.lang)
