"""The failed-sends card (``failures`` / ``échecs``), its Retry buttons, and the words every card
uses for what became of a send (its status, its failure reason, when).

``RETRY`` is the one verb that sends failed deliveries again, whatever card the button is on (this
list, a history page, the grouped failure notification). Its data is ``{"ids": [<delivery id>,
...]}`` (a list of ints; a comma-separated string is accepted too). The handler answers the card
that replaces the one clicked: with ``"list": "failures"`` (plus ``dossier`` and ``page``, the
list's filter and cursor) the same list page again, the sends queued again marked as such; with
``"history": <term>`` (plus ``after``) the same history page; with neither, a short card saying how
many were queued again.

Times are written as Adaptive Cards ``{{DATE()}}``/``{{TIME()}}`` functions: Teams shows them in
the reader's own time zone and date format, which the bot does not know.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from bot.cards.base import Card, card, paragraph, plain, say_button, small, title
from bot.cards.execute import button_row, execute
from hub.dashboards import FailurePage, FailureRow
from hub.i18n import Translator

RETRY = "failures.retry"
MORE = "failures.more"
LIST = "failures"  # the value of "list" in a Retry button's data on the failures card
STATUS_COLORS = {"sent": "Good", "failed": "Attention", "pending": "Warning", "sending": "Warning"}
DETAIL_SHOWN = 300  # characters of the application's answer


def when(moment: datetime) -> str:
    """A time Teams writes in the reader's zone and format (``{{DATE}}`` wants whole seconds)."""
    stamp = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{{{{DATE({stamp}, SHORT)}}}} {{{{TIME({stamp})}}}}"


def heading(text: str) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, "weight": "Bolder"}


def delivery_row(
    what: str, state: str, status: str, below: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """One send on one line: what went where (bold) beside what became of it (coloured), and
    ``below`` that (a Retry button)."""
    return {
        "type": "ColumnSet",
        "spacing": "None",
        "columns": [
            {
                "type": "Column",
                "width": 2,
                "items": [{**small(what, subtle=False), "weight": "Bolder"}],
            },
            {
                "type": "Column",
                "width": 3,
                "items": [
                    small(state, subtle=False, color=STATUS_COLORS.get(status)),
                    *(below or []),
                ],
            },
        ],
    }


def reason_label(t: Translator, reason: str | None) -> str:
    """The failure reason in plain words (``too_large`` → "File too large")."""
    key = f"failures.reason.{reason or 'unknown'}"
    text = t(key)
    return t("failures.reason.unknown") if text == key else text


def reason_fix(t: Translator, reason: str | None) -> str:
    """What to do about it."""
    key = f"failures.fix.{reason or 'unknown'}"
    text = t(key)
    return t("failures.fix.unknown") if text == key else text


def retry_button(
    t: Translator, ids: list[int], label: str, context: dict[str, Any]
) -> dict[str, Any]:
    return execute(label, RETRY, {"ids": ids, **context}, inputs=False)


def _row(t: Translator, row: FailureRow, context: dict[str, Any], queued: bool) -> dict[str, Any]:
    items: list[dict[str, Any]] = [
        heading(
            t(
                "failures.item",
                document=plain(row.document),
                version=row.version,
                application=plain(row.application),
            )
        ),
        small(
            t(
                "failures.place",
                code=plain(row.dossier_code),
                name=plain(row.dossier_name),
                when=when(row.queued_at),
            )
        ),
        {
            **small(reason_label(t, row.reason), subtle=False, color="Attention"),
            "weight": "Bolder",
            "spacing": "Small",
        },
        small(reason_fix(t, row.reason), subtle=False),
    ]
    if row.detail:
        detail = row.detail if len(row.detail) <= DETAIL_SHOWN else row.detail[:DETAIL_SHOWN] + "…"
        items.append(small(t("failures.answer", detail=plain(detail))))
    if queued:
        items.append(
            {**small(t("failures.queued"), subtle=False, color="Good"), "weight": "Bolder"}
        )
    elif row.may_retry:
        items.append(button_row(retry_button(t, [row.id], t("failures.retry"), context)))
    return {"type": "Container", "separator": True, "spacing": "Medium", "items": items}


def failures_card(
    t: Translator,
    page: FailurePage,
    dossier: str = "",
    *,
    cursor: str | None = None,
    queued: Collection[int] = (),
    notice: str = "",
    notice_color: str = "Good",
) -> Card:
    """One page of failed sends, newest first. ``cursor`` is what this page was read with (its
    Retry buttons read the same page again to update it in place); ``queued`` the sends just
    queued again, shown as such instead of with a Retry button."""
    if cursor:
        heading_text = t("failures.title_more")
    else:
        heading_text = (
            t("failures.title_dossier", code=plain(dossier)) if dossier else t("failures.title")
        )
    body: list[dict[str, Any]] = [title(heading_text)]
    if notice:
        body.append({**paragraph(notice), "color": notice_color, "weight": "Bolder"})
    if not page.items:
        body.append(
            paragraph(
                t("failures.none_dossier", code=plain(dossier)) if dossier else t("failures.none")
            )
        )
    context = {"list": LIST, "dossier": dossier, "page": cursor or ""}
    done = set(queued)
    body.extend(_row(t, row, context, row.id in done) for row in page.items)
    actions: list[dict[str, Any]] = []
    retryable = [row.id for row in page.items if row.may_retry and row.id not in done]
    if len(retryable) > 1:
        actions.append(
            retry_button(t, retryable, t("failures.retry_all", count=len(retryable)), context)
        )
    if page.next_after is not None:
        actions.append(
            execute(
                t("failures.more"),
                MORE,
                {"dossier": dossier, "after": page.next_after},
                inputs=False,
            )
        )
    return card(*body, actions=actions or None, lang=t.lang)


def queued_card(t: Translator, retried: int, refused: int, failures_word: str) -> Card:
    """Retry pressed on a card that is not a list (a notification): how many were queued again."""
    body: list[dict[str, Any]] = [title(t("failures.queued.title"))]
    body.append(
        paragraph(t.plural("failures.requeued", retried) if retried else t("failures.nothing"))
    )
    if refused:
        body.append(small(t("failures.refused_some", count=refused), subtle=False, color="Warning"))
    return card(*body, actions=[say_button(t("failures.see"), failures_word)], lang=t.lang)


def staff_only_card(t: Translator) -> Card:
    """A client contact asking for the failed sends: said kindly, with what they can ask instead."""
    return card(
        title(t("failures.staff_only.title")),
        paragraph(t("failures.staff_only.body")),
        lang=t.lang,
    )
