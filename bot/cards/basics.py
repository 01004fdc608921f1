"""Cards for people the bot does not know, unexpected failures and commands it does not know."""

from __future__ import annotations

from bot.cards.base import Card, card, paragraph, plain, say_button, title
from hub.i18n import Translator


def refusal_card(t: Translator) -> Card:
    return card(title(t("refusal.title")), paragraph(t("refusal.body")), lang=t.lang)


def unreadable_card(t: Translator) -> Card:
    """An activity with control characters (NUL...): nothing of it is read or stored."""
    return card(title(t("unreadable.title")), paragraph(t("unreadable.body")), lang=t.lang)


def apology_card(t: Translator) -> Card:
    """Something broke that the person could not cause (a bug, logged whole): nothing changed.
    A refusal from ``hub/`` says why instead (:func:`bot.errors.error_card`)."""
    return card(
        title(t("error.title"), color="Attention"), paragraph(t("error.generic")), lang=t.lang
    )


def unknown_command_card(t: Translator, text: str, help_word: str) -> Card:
    shown = text if len(text) <= 60 else text[:57] + "…"
    return card(
        title(t("unknown.title")),
        paragraph(t("unknown.body", text=plain(shown))),
        paragraph(t("unknown.hint"), subtle=True),
        actions=[say_button(t("button.help"), help_word)],
        lang=t.lang,
    )
