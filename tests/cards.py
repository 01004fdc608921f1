"""Checks every adaptive card against Microsoft's Adaptive Cards 1.5 schema (tests/schemas, copied with its licence)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

SCHEMAS = Path(__file__).resolve().parent / "schemas"
CARD_TYPE = "application/vnd.microsoft.card.adaptive"


@cache
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads((SCHEMAS / "adaptive-card-1.5.schema.json").read_text("utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def assert_valid_card(card: dict[str, Any]) -> None:
    """Teams' own ``msteams`` property is unknown to the schema: checked without it, all else strictly."""
    body = {k: v for k, v in card.items() if k != "msteams"}
    errors = sorted(_validator().iter_errors(body), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:5])


def cards_of(activity: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        a["content"] for a in activity.get("attachments") or [] if a.get("contentType") == CARD_TYPE
    ]


def texts_of(card: dict[str, Any]) -> list[str]:
    """Every text a person reads on the card, in order (text blocks, facts, button titles)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "TextBlock":
                found.append(node["text"])
            if "title" in node and isinstance(node["title"], str):
                found.append(node["title"])
            if "value" in node and node.get("type") is None and isinstance(node["value"], str):
                found.append(node["value"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card)
    return found
