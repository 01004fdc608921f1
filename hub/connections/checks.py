"""Checking the value of one connection: the dossier's code at the application, or its collection
email.
"""

from __future__ import annotations

import re
import unicodedata

from hub.connections.views import MAX_CODE, MAX_EMAIL, ConnectApp

_EMAIL = re.compile(r"^[^@\s;,|<>\"]+@[^@\s;,|<>\"]+\.[^@\s;,|<>\"]+$")


def normal(app: ConnectApp, raw: str) -> str:
    value = (raw or "").strip()
    return value.lower() if app.method == "collection_email" else value


def check_value(app: ConnectApp, value: str) -> str | None:
    """A message key when the code or email is wrong, else None."""
    if app.method == "api":
        if not value:
            return "connections.error.code_missing"
        if len(value) > MAX_CODE:
            return "connections.error.code_too_long"
        if any(unicodedata.category(c).startswith("C") for c in value):
            return "connections.error.code_invalid"
        return None
    if not value:
        return (
            "connections.error.email_missing_generate"
            if app.generates
            else "connections.error.email_missing"
        )
    if len(value) > MAX_EMAIL or not _EMAIL.match(value):
        return "connections.error.email_invalid"
    return None
