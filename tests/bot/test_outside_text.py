"""Outside text is text: file names, partner answers, people's, dossiers' and applications' names,
search terms typed by a person show on every card as typed, never as Markdown (a link, bold, a
list). Each card builder that shows outside text is given some full of Markdown, in French and
English; every text Teams reads as Markdown is then parsed with markdown-it (the parser the
Adaptive Cards renderer uses) and must be one plain run of text, reading as typed."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from markdown_it import MarkdownIt

from bot.cards import documents, failures, help, history, invite, notices, offer, propose
from bot.cards.base import Card, plain
from bot.cards.basics import unknown_command_card
from bot.errors import error_card
from hub.contacts.invitation import InvitationView
from hub.dashboards import FailurePage, FailureRow
from hub.errors import InvalidInput
from hub.history import (
    ConnectedApplication,
    DeliveryStatus,
    DocumentMatch,
    DocumentMatches,
    DossierStatus,
    RecentDelivery,
    VersionSummary,
)
from hub.i18n import Translator
from hub.notices import FailureNotice, NoticeItem
from hub.offers import DossierContacts, OfferStatus, Proposable
from hub.portfolio.dialog import ContactChoice
from hub.ports import Answer, Offer
from tests.cards import assert_valid_card

# Every one holds "evil" (how the check finds them on a card) and Markdown Teams would render.
FILE = "[click](https://evil.example).pdf"
MESSAGE = "**bold** [x](https://evil)"
PERSON = "_Eve_ <b>evil</b>"
DOSSIER = "# Dossier [y](https://evil.example)"
LABEL = "- OCR *evil* ~~app~~"
CONTACT = "1. Jo [z](https://evil.example)"
TERM = "[click](https://evil.example)"
CODE = "D`evil`01"
FOLDER = "Achats/> evil"
EMAIL = "jo_evil_@cabinet.example"
OUTSIDE = (FILE, MESSAGE, PERSON, DOSSIER, LABEL, CONTACT, TERM, CODE, FOLDER, EMAIL)
AT = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
MARKDOWN = MarkdownIt()


def _texts_read_as_markdown(node: Any) -> list[str]:
    """TextBlock texts and FactSet titles and values: where Teams reads Markdown (not inputs,
    choices, button titles or Action data)."""
    found: list[str] = []
    if isinstance(node, dict):
        if node.get("type") == "TextBlock":
            found.append(node["text"])
        if node.get("type") == "FactSet":
            for fact in node["facts"]:
                found += [fact["title"], fact["value"]]
        for key, value in node.items():
            if key not in ("actions", "selectAction", "refresh", "choices", "data"):
                found += _texts_read_as_markdown(value)
    elif isinstance(node, list):
        for value in node:
            found += _texts_read_as_markdown(value)
    return found


def read(text: str) -> str:
    """What a person reads of ``text`` rendered as Markdown; fails on any markup at all."""
    tokens = MARKDOWN.parse(text)
    assert [t.type for t in tokens] == ["paragraph_open", "inline", "paragraph_close"], text
    children = tokens[1].children or []
    assert [c.type for c in children] == ["text"], (text, [c.type for c in children])
    return children[0].content


# --------------------------------------------------------------------------- the builders


def _history(t: Translator) -> Card:
    delivery = DeliveryStatus(
        id=1,
        application=LABEL,
        status="sent",
        failure_reason=None,
        sent_at=AT,
        may_retry=False,
        app_reference=MESSAGE,
    )
    version = VersionSummary(1, AT, PERSON, 10, [delivery])
    match = DocumentMatch(1, FILE, CODE, DOSSIER, FOLDER, AT, [version])
    return history.history_card(t, TERM, DocumentMatches([match], None))


def _status(t: Translator) -> Card:
    app = ConnectedApplication(LABEL, "collection_email", True, CODE, EMAIL, [FOLDER], 0, 1)
    last = RecentDelivery(1, 1, FILE, 1, LABEL, "failed", "gave_up", AT, None, True)
    return history.status_card(
        t,
        DossierStatus(CODE, DOSSIER, "active", [app], [last], True),
        staff=True,
        failures_word="x",
    )


def _failures(t: Translator) -> Card:
    row = FailureRow(1, 1, FILE, 1, CODE, DOSSIER, LABEL, "rejected", 3, AT, AT, MESSAGE, True)
    return failures.failures_card(t, FailurePage([row], None, True), dossier=TERM)


def _notice(t: Translator) -> Card:
    item = NoticeItem(1, FILE, 2, CODE, DOSSIER, LABEL, "gave_up")
    notice = FailureNotice(1, 1, PERSON, t.lang, False, 1, (item,), (1,))
    return notices.notice_card(t, notice, "https://relais.example/admin/dashboard")


def _offer(t: Translator) -> Offer:
    return Offer(1, LABEL, MESSAGE, CODE, DOSSIER, 1, CONTACT, "oid", t.lang, PERSON)


def _answer() -> Answer:
    return Answer(1, True, LABEL, MESSAGE, CODE, DOSSIER, CONTACT, "staff:1", PERSON, "fr", "a1")


def _invitation(t: Translator) -> Card:
    view = InvitationView(
        1, CONTACT, EMAIL, "invited", 1, "failed", error=MESSAGE, outcome="checked"
    )
    return invite.invite_result_card(t, view, CODE)


def _contacts(t: Translator) -> Card:
    waiting = ContactChoice(2, CONTACT, EMAIL, "invited", False)
    ready = ContactChoice(3, PERSON, EMAIL, "guest", True)
    return propose.choose_contact_card(t, DossierContacts(CODE, DOSSIER, (ready, waiting)))


def _summary(t: Translator) -> Card:
    summary = propose.Summary(CODE, CONTACT, (LABEL,), (LABEL,), (LABEL,), (LABEL,))
    return propose.summary_card(t, summary)


def _receipt(t: Translator) -> Card:
    return documents.receipt_card(
        t,
        [
            documents.FileOutcome(FILE, "stored", DOSSIER, FOLDER, 1, 2),
            documents.FileOutcome(FILE, "identical", DOSSIER, FOLDER, 1),
            documents.FileOutcome(FILE, "refused", reason="—"),
        ],
    )


BUILDERS: dict[str, Callable[[Translator], Card]] = {
    "history": _history,
    "status": _status,
    "failures": _failures,
    "notice": _notice,
    "unknown dossier": lambda t: history.unknown_dossier_card(t, TERM),
    "unknown command": lambda t: unknown_command_card(t, TERM, "help"),
    "welcome": lambda t: help.welcome_card(t, PERSON, DOSSIER, False, "help"),
    "where to file": lambda t: documents.where_card(t, [FILE, FILE], [(CODE, DOSSIER)], [FOLDER]),
    "receipt": _receipt,
    "invitation": _invitation,
    "consent": lambda t: invite.consent_card(t, CONTACT, "https://login.example/consent", {}),
    "offer": lambda t: offer.offer_card(t, _offer(t), DOSSIER),
    "answered offer": lambda t: offer.answered_card(t, _answer()),
    "withdrawn offer": lambda t: offer.current_card(t, OfferStatus(_offer(t), "revoked"), DOSSIER),
    "told": lambda t: offer.told_card(t, _answer()),
    "choose contact": _contacts,
    "choose apps": lambda t: propose.choose_apps_card(
        t, CODE, (1, CONTACT), [Proposable(1, LABEL, MESSAGE)]
    ),
    "proposal summary": _summary,
    "refusal quoting a file": lambda t: error_card(
        t, InvalidInput("bad", key="documents.too_large", name=FILE, limit=10)
    ),
}


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("builder", list(BUILDERS), ids=list(BUILDERS))
def test_outside_text_shows_as_typed_and_never_as_markdown(builder: str, lang: str) -> None:
    built = BUILDERS[builder](Translator("bot", lang))
    assert_valid_card(built)
    outside = [text for text in _texts_read_as_markdown(built) if "evil" in text]
    assert outside, "the card shows none of the outside text it was given"
    shown = [read(text) for text in outside]  # no link, no bold, no list, no heading, no tag
    # Nothing lost: each outside text the card shows reads exactly as it was typed.
    assert any(value in line for line in shown for value in OUTSIDE)
    assert any("\\[" in text or "\\*" in text or "\\_" in text for text in outside)


def test_the_escapes_are_those_markdown_needs_and_no_more() -> None:
    assert plain(FILE) == r"\[click\](https://evil.example).pdf"
    assert plain(MESSAGE) == r"\*\*bold\*\* \[x\](https://evil)"
    assert plain("- item") == r"\- item" and plain("12. x") == r"12\. x"
    assert plain("# title") == r"\# title" and plain("> quote") == r"\> quote"
    assert plain("a\n- b\r\n1. c") == "a - b 1. c"  # one line: no list can start inside
    # File names read as they are where nothing needs escaping.
    assert plain("facture-0412 (copie) v1.2.pdf") == "facture-0412 (copie) v1.2.pdf"
    assert plain("releve_bancaire_2025.pdf") == "releve_bancaire_2025.pdf"  # no emphasis inside
    assert plain("_x_ a__b") == r"\_x\_ a\_\_b" and plain("Dupont & Fils") == "Dupont & Fils"
    assert plain("&copy; &#91;") == r"\&copy; \&#91;"  # entities would read as © and [
    for value in OUTSIDE:
        assert read(plain(value)) == " ".join(value.split("\n"))


def test_any_mix_of_markdown_characters_reads_exactly_as_typed() -> None:
    """Thousands of short strings of Markdown's characters, drawn from a fixed seed: escaped,
    each renders as one run of text equal to the string (its ends trimmed)."""
    draw = random.Random(11)
    alphabet = "ab1é _*[]()<>`~#-+.!|\\&;:/=\t"
    for _ in range(5000):
        typed = "".join(draw.choice(alphabet) for _ in range(draw.randint(1, 12)))
        if typed.strip():
            assert read(plain(typed)) == typed.strip(), typed
