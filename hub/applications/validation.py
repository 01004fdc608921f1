"""Checking a definition (step 1 of the wizard, the edit form) against its catalog entry.

Outside demo mode an API URL must also name a host Relais may connect to
(:mod:`connectors.addresses`): :func:`address_refused` asks, before the transaction, and
:func:`clean` turns the answer into the field's message. The worker asks again at every
connection (a name can change its address).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from connectors.addresses import AddressRefused, policy_for
from hub.applications.views import CatalogEntry, Definition
from hub.errors import InvalidInput
from hub.services import Hub

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Seed 000 §2's pitfall: a space lands right after "https://" when the address is pasted.
_SPACE_AFTER_SCHEME = re.compile(r"^(https?://)\s+", re.IGNORECASE)
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
    unreachable: bool = False,
    secret_moved: bool = False,
) -> dict[str, Any]:
    """The values to store, or :class:`InvalidInput` listing every wrong field at once.

    ``unreachable``: :func:`address_refused` refused the API URL. ``secret_moved``: a secret is
    stored, but for another host than the API URL's now; it is asked for again rather than sent
    to the new host.

    ``problems`` maps a form field to a message key; ``field``/``key`` name the first one, so a
    caller that shows a single message still says something useful.
    """
    problems = _Problems()
    # Checked even when the entry takes no key (an over-long one is still refused), kept only
    # when it does.
    api_key_id = problems.text("api_key_id", definition.api_key_id, entry.requires_api_key_id)
    _check_secret(problems, entry, definition.secret, secret_stored, secret_moved)
    # Built in the form's order, so the first problem noted is the first field shown.
    values = {
        "api_key_id": api_key_id if entry.requires_api_key_id else "",
        "api_url": _api_url(problems, entry, definition.api_url, https_only, unreachable),
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


def _check_secret(
    problems: _Problems, entry: CatalogEntry, secret: str, stored: bool, moved: bool
) -> None:
    if entry.requires_secret and not secret.strip() and (moved or not stored):
        problems["secret"] = (
            "applications.error.secret_again" if moved else ("applications.error.required")
        )
    elif len(secret) > MAX_SECRET:
        problems["secret"] = "applications.error.too_long"


def _api_url(
    problems: _Problems, entry: CatalogEntry, typed: str, https_only: bool, unreachable: bool
) -> str:
    if not entry.requires_api_url:
        return ""
    api_url = problems.text("api_url", tidy_url(typed), True, MAX_URL)
    # Spaces in an address that would be one without them: say so, not "enter an address".
    spaced = _is_url(re.sub(r"\s+", "", api_url)) and not _is_url(api_url)
    problems.check(
        "api_url",
        api_url,
        _is_url,
        "applications.error.url_space" if spaced else "applications.error.url",
    )
    if https_only:
        problems.check("api_url", api_url, _is_https, "applications.error.https")
    problems.check("api_url", api_url, lambda _: not unreachable, "applications.error.unreachable")
    return api_url


def tidy_url(typed: str) -> str:
    """The address as meant: no spaces around it, none between the scheme and the host."""
    return _SPACE_AFTER_SCHEME.sub(r"\1", (typed or "").strip())


def _is_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        return False
    # Credentials in the URL would be shown on the panel and travel beside the secret.
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and " " not in value
        and "@" not in parts.netloc
    )


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


async def address_refused(hub: Hub, typed_url: str) -> bool:
    """Whether, outside demo mode, the API URL names a host Relais will not connect to: a
    private, loopback, link-local… address, or a name that does not resolve to public ones. One
    answer for every cause, as the worker gives (the form must not tell an administrator which
    internal names exist). Malformed URLs are :func:`clean`'s to explain: False."""
    policy = policy_for(hub.settings.demo, hub.settings.outbound_allow)
    url = tidy_url(typed_url)
    if policy is None or not _is_url(url) or not _is_https(url):
        return False
    try:
        await policy.check_url(url)
    except AddressRefused:
        return True
    return False


def same_host(before: str, after: str) -> bool:
    """Whether two API URLs reach the same origin (scheme, host, port): a path may change with
    the stored secret kept, a host may not."""
    return _origin(before) == _origin(after)


def _origin(url: str) -> tuple[str, str, int | None]:
    try:
        parts = urlsplit(tidy_url(url))
        port = parts.port or {"https": 443, "http": 80}.get(parts.scheme)
    except ValueError:
        return ("", url, None)
    return (parts.scheme.lower(), (parts.hostname or "").rstrip("."), port)


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
