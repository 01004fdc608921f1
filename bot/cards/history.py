"""The ``history`` and ``status`` cards: what happened to the documents found by name, and a dossier's
applications, connected folders and last sends.

Times are written as Adaptive Cards ``{{DATE()}}``/``{{TIME()}}`` functions: Teams shows them in
the reader's own time zone and date format, which the bot does not know.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.cards.base import Card, card, paragraph, plain, say_button, small, title
from bot.cards.execute import button_row, execute
from bot.cards.failures import RETRY, delivery_row, heading, reason_label, when
from hub.history import DocumentMatch, DocumentMatches, DossierStatus
from hub.i18n import Translator

MORE = "history.more"
HISTORY_EXAMPLE = "facture"
# Versions shown per document: older ones are rare and live in the panel's History drawer.
VERSIONS_SHOWN = 3


def section(text: str) -> dict[str, Any]:
    return {**heading(text), "size": "Medium", "spacing": "Large"}


def usage_card(t: Translator, area: str, example: str | None, word: str) -> Card:
    """What to type after the command (``area`` is ``history`` or ``status``), with a button that
    types the example (none when there is nothing to give as one)."""
    if not example:
        return card(
            title(t(f"{area}.usage.title")), paragraph(t(f"{area}.usage.body")), lang=t.lang
        )
    return card(
        title(t(f"{area}.usage.title")),
        paragraph(t(f"{area}.usage.body")),
        paragraph(t(f"{area}.usage.example", example=example), subtle=True),
        actions=[say_button(f"{word} {example}", f"{word} {example}")],
        lang=t.lang,
    )


def unknown_dossier_card(t: Translator, code: str) -> Card:
    shown = code if len(code) <= 40 else code[:37] + "…"
    return card(
        title(t("status.unknown.title"), color="Attention"),
        paragraph(t("status.unknown.body", code=plain(shown))),
        lang=t.lang,
    )


def delivery_state(
    t: Translator,
    status: str,
    reason: str | None,
    sent_at: datetime | None,
    reference: str,
    *,
    retry_at: datetime | None = None,
    tries: int = 0,
) -> str:
    """What became of a send, in words: sent when (and the application's reference), failed
    why, or waiting (after failed tries: when the next one is)."""
    if status == "sent":
        at = when(sent_at) if sent_at else ""
        if reference:
            return t("history.delivery.sent_ref", when=at, reference=plain(reference))
        return t("history.delivery.sent", when=at)
    if status == "failed":
        return t("history.delivery.failed", reason=reason_label(t, reason))
    if status == "pending" and tries and retry_at is not None:
        return t("history.delivery.retrying", when=when(retry_at), count=tries)
    return t(f"history.delivery.{status}")


def _document(
    t: Translator, document: DocumentMatch, term: str, after: int | None
) -> dict[str, Any]:
    items: list[dict[str, Any]] = [
        heading(plain(document.name)),
        small(
            t(
                "history.place",
                code=plain(document.dossier_code),
                name=plain(document.dossier_name),
                folder=plain(document.folder),
            )
        ),
    ]
    for version in document.versions[:VERSIONS_SHOWN]:
        at = when(version.uploaded_at)
        line = (
            t("history.version_by", number=version.number, when=at, who=plain(version.uploaded_by))
            if version.uploaded_by
            else t("history.version", number=version.number, when=at)
        )
        items.append({**small(line, subtle=False), "weight": "Bolder", "spacing": "Small"})
        if not version.deliveries:
            items.append(small(t("history.no_delivery")))
        for delivery in version.deliveries:
            state = delivery_state(
                t,
                delivery.status,
                delivery.failure_reason,
                delivery.sent_at,
                delivery.app_reference,
                retry_at=delivery.next_attempt_at,
                tries=delivery.tries,
            )
            retry = (
                [
                    button_row(
                        execute(
                            t("failures.retry"),
                            RETRY,
                            {"ids": [delivery.id], "history": term, "after": after or ""},
                            inputs=False,
                        )
                    )
                ]
                if delivery.may_retry
                else []
            )
            items.append(delivery_row(plain(delivery.application), state, delivery.status, retry))
    hidden = len(document.versions) - VERSIONS_SHOWN
    if hidden > 0:
        items.append(small(t("history.older", count=hidden)))
    return {"type": "Container", "separator": True, "spacing": "Medium", "items": items}


def history_card(
    t: Translator,
    term: str,
    matches: DocumentMatches,
    *,
    after: int | None = None,
    notice: str = "",
) -> Card:
    """One page of documents found by name; ``after`` is the cursor this page was read with (the
    Retry buttons read the same page again), "show more" carries the next one."""
    shown = plain(term if len(term) <= 60 else term[:57] + "…")
    body: list[dict[str, Any]] = [
        title(t("history.title_more" if after else "history.title", term=shown))
    ]
    if notice:
        body.append({**paragraph(notice), "color": "Good", "weight": "Bolder"})
    if not matches.items:
        body.append(paragraph(t("history.none", term=shown)))
    body.extend(_document(t, document, term, after) for document in matches.items)
    actions = (
        [execute(t("history.more"), MORE, {"q": term, "after": matches.next_after}, inputs=False)]
        if matches.next_after is not None
        else None
    )
    return card(*body, actions=actions, lang=t.lang)


# --------------------------------------------------------------------------- status


def status_card(t: Translator, status: DossierStatus, *, staff: bool, failures_word: str) -> Card:
    """The dossier's applications (how each receives documents and which folders), then its last
    sends. Contacts see neither the collection addresses nor the codes at the applications."""
    body: list[dict[str, Any]] = [
        title(t("status.title", code=plain(status.code), name=plain(status.name))),
        small(t(f"status.state.{status.status}")),
        section(t("status.apps")),
    ]
    if not status.applications:
        body.append(paragraph(t("status.no_apps")))
    for app in status.applications:
        items: list[dict[str, Any]] = [
            heading(
                plain(app.application)
                if app.active
                else t("status.app.off", application=plain(app.application))
            )
        ]
        if staff:
            items.append(
                small(t(f"status.method.{app.method}", email=plain(app.collection_email or "—")))
            )
            if app.code_at_app:
                items.append(small(t("status.code_at_app", code=plain(app.code_at_app))))
        items.append(
            small(
                t("status.folders", folders=", ".join(plain(f) for f in app.folders))
                if app.folders
                else t("status.no_folders")
            )
        )
        items.append(
            small(
                t("status.counts", pending=app.pending, failed=app.failed),
                subtle=not app.failed,
                color="Attention" if app.failed else None,
            )
        )
        body.append({"type": "Container", "separator": True, "items": items})
    body.append(section(t("status.last")))
    if not status.last_deliveries:
        body.append(paragraph(t("status.no_last")))
    for delivery in status.last_deliveries:
        state = delivery_state(
            t, delivery.status, delivery.failure_reason, delivery.sent_at or delivery.queued_at, ""
        )
        what = t(
            "status.last_item",
            document=plain(delivery.document),
            version=delivery.version,
            application=plain(delivery.application),
        )
        # Each send's name wraps over several lines: a gap keeps one send from running into the next.
        body.append({**delivery_row(what, state, delivery.status), "spacing": "Small"})
    failed = sum(a.failed for a in status.applications)
    actions = (
        [say_button(t("failures.see"), f"{failures_word} {status.code}")]
        if staff and failed
        else None
    )
    return card(*body, actions=actions, lang=t.lang)
