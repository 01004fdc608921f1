"""The ``sent`` card: what was sent today, to every application or to the ones asked about."""

from __future__ import annotations

from bot.cards.base import Card, card, paragraph, plain, small, title
from bot.cards.failures import when
from hub.history import SentToday
from hub.i18n import Translator


def sent_card(t: Translator, sent: SentToday) -> Card:
    asked = plain(sent.asked)
    if sent.asked and not sent.applications:
        return card(
            title(t("sent.title")),
            paragraph(t("sent.no_application", asked=asked)),
            lang=t.lang,
        )
    heading = (
        t("sent.title_to", application=plain(", ".join(sent.applications)))
        if sent.asked
        else t("sent.title")
    )
    if not sent.items:
        return card(title(heading), paragraph(t("sent.none")), lang=t.lang)
    lines = [
        small(
            t(
                "sent.line",
                document=plain(entry.document),
                version=entry.version,
                application=plain(entry.application),
                code=plain(entry.dossier_code),
                when=when(entry.sent_at),
            ),
            subtle=False,
        )
        for entry in sent.items
    ]
    more = sent.total - len(sent.items)
    if more > 0:
        lines.append(small(t.plural("sent.more", more)))
    return card(
        title(heading),
        paragraph(t.plural("sent.count", sent.total)),
        *lines,
        lang=t.lang,
    )
