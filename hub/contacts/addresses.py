"""Which e-mail addresses Relais accepts for a contact: one rule for creating and inviting."""

from __future__ import annotations

import re

_EMAIL = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)


def valid_email(email: str) -> bool:
    """A deliverable-looking address: ``local@domain.tld``, no spaces, at most 254 characters."""
    return len(email) <= 254 and _EMAIL.match(email) is not None
