"""Cards for refusals, errors and commands the bot does not know."""

from __future__ import annotations

from collections.abc import Callable

from bot.cards.base import Card, card, paragraph, say_button, title

T = Callable[..., str]


def refusal_card(t: T, lang: str) -> Card:
    return card(title(t("refusal.title")), paragraph(t("refusal.body")), lang=lang)


def error_card(t: T, lang: str, key: str = "error.generic", why: str = "") -> Card:
    return card(
        title(t("error.title"), color="Attention"), paragraph(t(key, why=why).strip()), lang=lang
    )


def unknown_command_card(t: T, lang: str, text: str, help_word: str) -> Card:
    shown = text if len(text) <= 60 else text[:57] + "…"
    return card(
        title(t("unknown.title")),
        paragraph(t("unknown.body", text=shown)),
        paragraph(t("unknown.hint"), subtle=True),
        actions=[say_button(t("button.help"), help_word)],
        lang=lang,
    )
