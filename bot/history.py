"""What happened to every document, from Teams (seed 000 §5, DESIGN.md workflows 3 and 7): the
``history``, ``failures`` and ``status`` commands and the verbs of their cards (show more, Retry).

Who sees what is ``hub.history``'s; this module reads the line or the button's data, calls the
use-case and picks the card.
"""

from __future__ import annotations

import re
from typing import Any

from bot.cards import failures as failure_cards
from bot.cards import history as history_cards
from bot.cards.base import Card
from bot.cards.sent import sent_card
from bot.turn import Turn
from hub.dashboards import FailureFilters, FailurePage, failures
from hub.errors import InvalidInput, NotFound
from hub.history import (
    dossier_status,
    example_dossier,
    find_documents,
    retry_deliveries,
    sent_today,
)
from hub.history.names import fold
from hub.i18n import Translator
from hub.identity import Actor
from hub.services import Hub

HISTORY_PAGE = 5  # documents per card: about a screenful, each with its versions and sends
FAILURES_PAGE = 5
MAX_TERM = 200


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def delivery_ids(raw: Any) -> list[int]:
    """The Retry button's ``ids``: a list of ints, or a comma-separated string."""
    values = raw.split(",") if isinstance(raw, str) else raw if isinstance(raw, list) else [raw]
    ids = [_int(v) for v in values if str(v).strip()]
    if not ids or any(i is None for i in ids):
        raise InvalidInput(f"bad delivery ids {raw!r}", key="history.retry_nothing")
    return [i for i in ids if i is not None]


# --------------------------------------------------------------------------- history


async def history_command(turn: Turn) -> None:
    """``history facture`` / ``historique facture``: the matching documents, newest first."""
    term = turn.args.strip()[:MAX_TERM]
    if not term:
        await turn.send_card(
            history_cards.usage_card(
                turn.t,
                "history",
                history_cards.HISTORY_EXAMPLE,
                turn.word("history"),
            )
        )
        return
    found = await find_documents(turn.hub, turn.actor, term, limit=HISTORY_PAGE)
    await turn.send_card(history_cards.history_card(turn.t, term, found))


async def history_more(turn: Turn) -> Card:
    term = turn.text("q")[:MAX_TERM]
    after = _int(turn.data.get("after"))
    found = await find_documents(turn.hub, turn.actor, term, limit=HISTORY_PAGE, after=after)
    return history_cards.history_card(turn.t, term, found, after=after)


# --------------------------------------------------------------------------- failures


async def _failures_page(hub: Hub, actor: Actor, dossier: str, cursor: str | None) -> FailurePage:
    return await failures(
        hub, actor, FailureFilters(dossier=dossier), after=cursor or None, per_page=FAILURES_PAGE
    )


async def failures_command(turn: Turn) -> None:
    """``failures`` / ``échecs`` [dossier code]: the failed sends the person may see."""
    if not turn.actor.is_staff:
        await turn.send_card(failure_cards.staff_only_card(turn.t))
        return
    code = turn.args.split()[0] if turn.args.split() else ""
    try:
        page = await _failures_page(turn.hub, turn.actor, code, None)
    except NotFound:
        await turn.send_card(history_cards.unknown_dossier_card(turn.t, code))
        return
    await turn.send_card(failure_cards.failures_card(turn.t, page, code))


async def failures_more(turn: Turn) -> Card:
    code, cursor = turn.text("dossier"), turn.text("after")
    try:
        page = await _failures_page(turn.hub, turn.actor, code, cursor)
    except NotFound:
        return history_cards.unknown_dossier_card(turn.t, code)
    return failure_cards.failures_card(turn.t, page, code, cursor=cursor)


def _retried_notice(t: Translator, retried: int, refused: int) -> str:
    text = t.plural("failures.requeued", retried) if retried else t("failures.nothing")
    return f"{text} {t('failures.refused_some', count=refused)}" if refused else text


async def failures_retry(turn: Turn) -> Card:
    """Retry (one send, or every one shown): back in the queue, then the card clicked again with
    what changed. The page is read before the sends leave the failed list, so that they stay on
    it marked "queued again"."""
    ids = delivery_ids(turn.data.get("ids"))
    if turn.text("list") == failure_cards.LIST:
        code, cursor = turn.text("dossier"), turn.text("page")
        page = await _failures_page(turn.hub, turn.actor, code, cursor)
        result = await retry_deliveries(turn.hub, turn.actor, ids)
        return failure_cards.failures_card(
            turn.t,
            page,
            code,
            cursor=cursor,
            queued=result.ids,
            notice=_retried_notice(turn.t, result.retried, result.refused),
            notice_color="Good" if result.retried else "Warning",
        )
    result = await retry_deliveries(turn.hub, turn.actor, ids)
    term = turn.text("history")[:MAX_TERM]
    if term:
        after = _int(turn.data.get("after"))
        found = await find_documents(turn.hub, turn.actor, term, limit=HISTORY_PAGE, after=after)
        return history_cards.history_card(
            turn.t,
            term,
            found,
            after=after,
            notice=_retried_notice(turn.t, result.retried, result.refused),
        )
    return failure_cards.queued_card(turn.t, result.retried, result.refused, turn.word("failures"))


# --------------------------------------------------------------------------- sent today

# Words around the application's name in "what was sent to the OCR today" / "qu'est-ce qui a été
# envoyé à l'OCR aujourd'hui", folded: they are not part of it.
SENT_FILLERS = frozenset(
    {"to", "the", "today", "at", "for", "by", "so", "far", "?"}
    | {"a", "au", "aux", "l", "la", "le", "les", "de", "du", "des", "pour", "vers", "chez"}
    | {"aujourd'hui", "aujourdhui", "ce", "jour", "matin"}
)
ELISION = re.compile(r"\b([ldjnst]|qu)['’]", re.IGNORECASE)


def application_words(args: str) -> str:
    """The words naming the application: ``to the OCR today?`` → ``OCR``."""
    words = ELISION.sub(r"\1' ", args.replace("’", "'")).replace("?", " ? ").split()
    return " ".join(w for w in words if fold(w).rstrip("'") not in SENT_FILLERS)


async def sent_command(turn: Turn) -> None:
    """``sent`` / ``envoyés`` [application], or "what was sent to the OCR today": the documents
    sent today (the firm's day), to every application or to those named."""
    sent = await sent_today(turn.hub, turn.actor, application_words(turn.args)[:MAX_TERM])
    await turn.send_card(sent_card(turn.t, sent))


# --------------------------------------------------------------------------- status


async def status_command(turn: Turn) -> None:
    """``status CODE`` / ``statut CODE``: the dossier's applications, folders and last sends."""
    code = turn.args.split()[0] if turn.args.split() else ""
    if not code:
        await turn.send_card(
            history_cards.usage_card(
                turn.t,
                "status",
                # One of the person's own dossiers: an example that answers.
                await example_dossier(turn.hub, turn.actor),
                turn.word("status"),
            )
        )
        return
    try:
        status = await dossier_status(turn.hub, turn.actor, code)
    except NotFound:
        await turn.send_card(history_cards.unknown_dossier_card(turn.t, code))
        return
    await turn.send_card(
        history_cards.status_card(
            turn.t,
            status,
            staff=turn.actor.is_staff,
            failures_word=turn.word("failures"),
        )
    )
