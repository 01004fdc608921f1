"""What a connector is given to send: one document version, for one dossier, to one application.

The worker builds a :class:`Parcel` from the delivery's rows (and the decrypted secret), so a
connector never touches the database and a vendor-specific connector needs nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from connectors.outcomes import Outcome


@dataclass(frozen=True)
class Target:
    """The application, as the firm configured it."""

    slug: str
    label: str
    connection: str  # api | collection_email
    api_url: str = ""
    api_key_id: str = ""
    secret: str = ""
    document_type: str | None = None
    specific_fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Parcel:
    delivery_id: int
    # Sent as Idempotency-Key / in the Message-ID: a retry after a crash is recognisable.
    idempotency_key: str
    firm_id: int
    dossier_code: str  # the code the application knows the dossier by
    collection_email: str
    file_name: str
    content_type: str
    size: int
    sha256: str
    data: bytes
    target: Target


class Connector(Protocol):
    """One kind of application (or one vendor). Never raises for the peer's answers: returns an
    outcome; raising is kept for bugs."""

    async def send(self, parcel: Parcel) -> Outcome: ...
