"""Checking a definition (step 1 of the wizard, the edit form) against its catalog entry."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from hub.applications.views import CatalogEntry, Definition
from hub.errors import InvalidInput
from hub.services import Hub

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_TEXT = 200
MAX_SECRET = 500
MAX_URL = 500
MAX_EMAIL = 320


class _Problems(dict[str, str]):
    """Form field → message key, in the order the form shows the fields."""

    def text(self, name: str, value: str, required: bool, limit: int = MAX_TEXT) -> str:
        """The trimmed value; notes a missing required one, or one over ``limit``."""
        value = (value or "").strip()
        if required and not value:
            self[name] = "applications.error.required"
        elif len(value) > limit:
            self[name] = "applications.error.too_long"
        return value

    def check(self, name: str, value: str, test: Callable[[str], object], key: str) -> None:
        """Note ``key`` when a value was given, nothing is wrong with it yet, and ``test`` fails."""
        if value and name not in self and not test(value):
            self[name] = key


def clean(
    entry: CatalogEntry,
    definition: Definition,
    sic_codes: Sequence[str],
    *,
    secret_stored: bool,
    https_only: bool,
) -> dict[str, Any]:
    """The values to store, or :class:`InvalidInput` listing every wrong field at once.

    ``problems`` maps a form field to a message key; ``field``/``key`` name the first one, so a
    caller that shows a single message still says something useful.
    """
    problems = _Problems()
    # Checked even when the entry takes no key (an over-long one is still refused), kept only
    # when it does.
    api_key_id = problems.text("api_key_id", definition.api_key_id, entry.requires_api_key_id)
    _check_secret(problems, entry, definition.secret, secret_stored)
    # Built in the form's order, so the first problem noted is the first field shown.
    values = {
        "api_key_id": api_key_id if entry.requires_api_key_id else "",
        "api_url": _api_url(problems, entry, definition.api_url, https_only),
        "fields": {
            str(spec["name"]): _field(problems, spec, definition.fields) for spec in entry.fields
        },
        "sic_code": _sic_code(problems, entry, definition.sic_code, sic_codes),
        "is_default": bool(definition.is_default) and entry.offers_default,
        "partner_email": _partner_email(problems, entry, definition.partner_email),
    }
    if problems:
        first = next(iter(problems))
        raise InvalidInput(
            f"invalid {', '.join(problems)}",
            field=first,
            key=problems[first],
            problems=dict(problems),
        )
    return values


def _check_secret(problems: _Problems, entry: CatalogEntry, secret: str, stored: bool) -> None:
    if entry.requires_secret and not stored and not secret.strip():
        problems["secret"] = "applications.error.required"
    elif len(secret) > MAX_SECRET:
        problems["secret"] = "applications.error.too_long"


def _api_url(problems: _Problems, entry: CatalogEntry, typed: str, https_only: bool) -> str:
    if not entry.requires_api_url:
        return ""
    api_url = problems.text("api_url", typed, True, MAX_URL)
    problems.check("api_url", api_url, _is_url, "applications.error.url")
    if https_only:
        problems.check("api_url", api_url, _is_https, "applications.error.https")
    return api_url


def _is_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and " " not in value


def _is_https(value: str) -> bool:
    return urlsplit(value).scheme == "https"


def _field(problems: _Problems, spec: Mapping[str, Any], typed: Mapping[str, str]) -> str:
    """One of the catalog entry's own fields, checked against its ``pattern`` when it has one."""
    name = str(spec["name"])
    key = f"field.{name}"
    value = problems.text(key, typed.get(name, ""), bool(spec.get("required")))
    pattern = spec.get("pattern")
    if pattern:
        problems.check(key, value, lambda v: re.fullmatch(pattern, v), "applications.error.pattern")
    return value


def _sic_code(
    problems: _Problems, entry: CatalogEntry, typed: str, sic_codes: Sequence[str]
) -> str:
    """The SIC code says which of the firm's customer codes generated the API key: asked only
    when there is a key, and only when the firm has several codes to choose from."""
    if not entry.requires_api_key_id:
        return ""
    if len(sic_codes) > 1:
        sic_code = typed.strip()
        if sic_code not in sic_codes:
            problems["sic_code"] = "applications.error.sic"
        return sic_code
    return sic_codes[0] if sic_codes else ""


def _partner_email(problems: _Problems, entry: CatalogEntry, typed: str) -> str:
    if not entry.asks_partner_email:
        return ""
    email = problems.text("partner_email", typed, not entry.generates_collection_email, MAX_EMAIL)
    problems.check("partner_email", email, _EMAIL.match, "applications.error.email")
    return email


def https_only(hub: Hub) -> bool:
    # DESIGN.md workflow 2: non-https API URLs are refused in production, allowed in the demo.
    return not hub.settings.demo


def unknown_app() -> InvalidInput:
    return InvalidInput(
        "no such application to add",
        field="app",
        key="applications.error.app",
        problems={"app": "applications.error.app"},
    )
