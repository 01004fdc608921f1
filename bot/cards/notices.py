"""The notice a dossier master receives in Teams when sends failed for good: how many, the latest
few (document, dossier, application, the reason in plain words), "and N more" with the dashboard,
and one Retry for the failures shown (the ``failures`` command's verb and handler)."""

from __future__ import annotations

from typing import Any

from bot.cards.base import Card, card, open_url, paragraph, plain, title
from bot.cards.execute import execute
from bot.cards.failures import RETRY
from hub.i18n import Translator
from hub.notices import FailureNotice, NoticeItem


def reason_label(t: Translator, reason: str) -> str:
    """The failure class in plain words (the texts the ``failures`` command shows)."""
    key = f"failures.reason.{reason}"
    text = t(key)
    return t("failures.reason.unknown") if text == key else text


def _item(t: Translator, item: NoticeItem) -> dict[str, Any]:
    name = (
        t("notices.version", document=plain(item.document), version=item.version)
        if item.version > 1
        else plain(item.document)
    )
    return {
        "type": "Container",
        "separator": True,
        "spacing": "Medium",
        "items": [
            {"type": "TextBlock", "text": name, "weight": "Bolder", "wrap": True},
            {
                "type": "TextBlock",
                "text": t(
                    "notices.place",
                    code=plain(item.dossier_code),
                    name=plain(item.dossier_name),
                    application=plain(item.application or "—"),
                ),
                "isSubtle": True,
                "wrap": True,
                "spacing": "None",
            },
            {
                "type": "TextBlock",
                "text": reason_label(t, item.reason),
                "color": "Attention",
                "wrap": True,
                "spacing": "Small",
            },
        ],
    }


def notice_card(t: Translator, notice: FailureNotice, dashboard_url: str) -> Card:
    heading = t.plural("notices.title", notice.total)
    body: list[dict[str, Any]] = [
        title(heading, color="Attention"),
        paragraph(t("notices.digest_intro" if notice.digest else "notices.intro")),
        *(_item(t, item) for item in notice.items),
    ]
    if notice.more:
        body.append({**paragraph(t("notices.more", count=notice.more)), "spacing": "Medium"})
    body.append({**paragraph(t("notices.why"), subtle=True), "size": "Small"})
    ids = notice.retry_ids
    actions = []
    if ids:
        label = t.plural("notices.retry", len(ids))
        actions.append(execute(label, RETRY, {"ids": ids}, style="positive", inputs=False))
    actions.append(open_url(t("notices.open_dashboard"), dashboard_url))
    return card(*body, actions=actions, lang=t.lang)
