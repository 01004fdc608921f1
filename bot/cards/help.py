"""The help card (the command list, made from the command table) and the welcome card."""

from __future__ import annotations

from collections.abc import Sequence

from bot.cards.base import Card, card, open_url, paragraph, plain, say_button, title
from hub.i18n import Translator


def help_card(
    t: Translator,
    commands: Sequence[tuple[str, str]],
    panel_url: str | None = None,
    *,
    staff: bool = True,
) -> Card:
    """``commands`` is (the word to type, what it does), in the person's language. Everyone is
    told a file can be dropped in the chat; only the staff hear of the admin panel (a client
    contact has no access to it)."""
    facts = [{"title": word, "value": summary} for word, summary in commands]
    actions = [open_url(t("help.open_panel"), panel_url)] if panel_url and staff else None
    parts = [
        title(t("help.title")),
        paragraph(t("help.intro")),
        {"type": "FactSet", "facts": facts},
        paragraph(t("help.files.staff" if staff else "help.files.contact")),
    ]
    if staff:
        parts.append(paragraph(t("help.hint"), subtle=True))
    return card(*parts, actions=actions, lang=t.lang)


def welcome_card(t: Translator, name: str, firm: str, is_staff: bool, help_word: str) -> Card:
    intro = t("welcome.staff") if is_staff else t("welcome.contact", firm=plain(firm))
    return card(
        title(t("welcome.title", name=plain(name))),
        paragraph(intro),
        paragraph(t("welcome.next"), subtle=True),
        actions=[say_button(t("button.help"), help_word)],
        lang=t.lang,
    )
