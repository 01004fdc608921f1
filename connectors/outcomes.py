"""What one send attempt to an application came to, as every connector reports it.

``Sent``: the application took the document (with its reference, when it gives one).
``Refused``: it said no for a reason that retrying will not change; the delivery fails with
``reason``, shown on the dashboard. ``Fault``: a passing problem (timeout, 429, 5xx, network);
the worker retries later, no sooner than ``retry_after`` seconds when the application said so.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from urllib.parse import quote

# Refusal reasons: the document or the dossier is wrong for this application.
TOO_LARGE = "too_large"
FORMAT_REFUSED = "format_refused"
DOSSIER_UNKNOWN = "dossier_unknown"
DOSSIER_INACTIVE = "dossier_inactive"
CREDENTIALS_REFUSED = "credentials_refused"
# The application refused with an answer the contract does not name (kept with its detail).
REJECTED = "rejected"
# Relais cannot even try: no API URL, no collection email, a secret that cannot be decrypted,
# no connector for this kind of application.
NOT_CONFIGURED = "not_configured"
# The connection was switched off after the version arrived; nothing is sent any more.
DISCONNECTED = "disconnected"
# The application was deleted from the firm before the version was sent; nothing is sent any
# more, and the delivery stays as history.
APPLICATION_DELETED = "application_deleted"
# Passing faults went on for every allowed attempt.
GAVE_UP = "gave_up"

REFUSAL_REASONS = (
    TOO_LARGE,
    FORMAT_REFUSED,
    DOSSIER_UNKNOWN,
    DOSSIER_INACTIVE,
    CREDENTIALS_REFUSED,
    REJECTED,
    NOT_CONFIGURED,
    DISCONNECTED,
    APPLICATION_DELETED,
)
FAILURE_REASONS = (*REFUSAL_REASONS, GAVE_UP)


@dataclass(frozen=True)
class Sent:
    reference: str
    detail: str = ""


@dataclass(frozen=True)
class Refused:
    reason: str
    detail: str = ""


@dataclass(frozen=True)
class Fault:
    detail: str
    retry_after: float | None = None


Outcome = Sent | Refused | Fault


def outcome_name(outcome: Outcome) -> str:
    """The word kept in ``DeliveryAttempt.outcome``."""
    if isinstance(outcome, Sent):
        return "sent"
    if isinstance(outcome, Refused):
        return "refused"
    return "fault"


# What people are shown of an application's answer, at most (the dashboard, the history, the
# CSV export): enough for a sentence, not a page an application sent back.
SHOWN_LIMIT = 500
MASK = "•••"
# Shorter values are no secret worth the name, and masking them would blank ordinary words.
_SHORTEST_MASKED = 4


def redacted(outcome: Outcome, secrets: Iterable[str]) -> Outcome:
    """``outcome`` with each of ``secrets`` (the application's secret and key id) masked in its
    texts, also URL- or JSON-encoded, and its detail bounded: an application that echoes the
    credentials it was sent must not show them to everyone who reads the dashboard."""
    forms = sorted(
        {
            form
            for secret in secrets
            if len(secret) >= _SHORTEST_MASKED
            for form in (secret, quote(secret, safe=""), json.dumps(secret)[1:-1])
        },
        key=len,
        reverse=True,
    )

    def clean(text: str, limit: int) -> str:
        for form in forms:
            text = text.replace(form, MASK)
        return text[:limit]

    if isinstance(outcome, Sent):
        return replace(
            outcome,
            reference=clean(outcome.reference, 200),
            detail=clean(outcome.detail, SHOWN_LIMIT),
        )
    return replace(outcome, detail=clean(outcome.detail, SHOWN_LIMIT))
