"""The pieces every card shares: the envelope, a title, a paragraph, a button that types a command,
and :func:`plain`, which every builder applies to the outside text it puts in a card."""

from __future__ import annotations

import re
from typing import Any

Card = dict[str, Any]
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"


# Teams reads TextBlock texts and FactSet titles and values as Markdown (bold, italic, lists, links;
# docs: "Format cards in Teams"). These open markup wherever they stand...
_INLINE = re.compile(r"[\\`*\[\]<>~|]|&(?=#?\w+;)")
# ...an underscore unless inside a word (CommonMark: "facture_0412" has no emphasis)...
_UNDERSCORE = re.compile(r"(?<![^\W_])_|_(?![^\W_])")
# ...and these only at the start of a line: a list item (- + 1. 1)), a heading.
_LINE_START = re.compile(r"^(?:([-+#])|(\d{1,9})([.)]))")
_LINES = re.compile(r"\s*[\r\n\v\f\u2028\u2029]+\s*")


def plain(text: str) -> str:
    """Outside text (a file name, a partner's answer, a person's or dossier's name, an
    application's label, a search term) as literal text in a card that reads Markdown: its
    markup characters backslash-escaped, its line breaks made spaces (a second line could start
    a list), its ends trimmed (four leading spaces make code). ``[x](https://…)`` then shows as
    typed instead of as a link.

    Only the characters that can make markup where they stand are escaped: ``-``, ``.``, ``_``
    and parentheses are in most file names, and some Teams mobile clients have shown the
    backslashes. Input values, choice titles and Action data are not Markdown: they take the
    raw text."""
    text = _LINES.sub(" ", text).strip()
    text = _INLINE.sub(lambda found: "\\" + found.group(0), text)
    text = _UNDERSCORE.sub(r"\\_", text)

    def lead(found: re.Match[str]) -> str:
        marker, number, mark = found.groups()
        return f"\\{marker}" if marker else f"{number}\\{mark}"

    return _LINE_START.sub(lead, text, count=1)


def card(
    *body: dict[str, Any], actions: list[dict[str, Any]] | None = None, lang: str = "fr"
) -> Card:
    result: Card = {
        "type": "AdaptiveCard",
        "$schema": SCHEMA,
        "version": "1.5",
        "lang": lang,
        "body": list(body),
    }
    if actions:
        result["actions"] = actions
    return result


def title(text: str, *, color: str = "Default") -> dict[str, Any]:
    return {
        "type": "TextBlock",
        "text": text,
        "size": "Large",
        "weight": "Bolder",
        "wrap": True,
        "color": color,
        "style": "heading",
    }


def paragraph(text: str, *, subtle: bool = False) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "TextBlock", "text": text, "wrap": True}
    if subtle:
        block["isSubtle"] = True
        block["spacing"] = "Medium"
    return block


def small(text: str, *, subtle: bool = True, color: str | None = None) -> dict[str, Any]:
    """A small line close under the one above (a detail, a remark)."""
    block: dict[str, Any] = {
        "type": "TextBlock",
        "text": text,
        "wrap": True,
        "size": "Small",
        "spacing": "None",
    }
    if subtle:
        block["isSubtle"] = True
    if color:
        block["color"] = color
    return block


def say_button(label: str, command: str) -> dict[str, Any]:
    """A button that sends ``command`` as if the person had typed it (Teams ``imBack``)."""
    return {
        "type": "Action.Submit",
        "title": label,
        "data": {"msteams": {"type": "imBack", "value": command}},
    }


def open_url(label: str, url: str) -> dict[str, Any]:
    return {"type": "Action.OpenUrl", "title": label, "url": url}
