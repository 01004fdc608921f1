"""The pieces every card shares: the envelope, a title, a paragraph, a button that types a command."""

from __future__ import annotations

from typing import Any

Card = dict[str, Any]
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"


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
