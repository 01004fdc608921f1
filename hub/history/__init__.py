"""What happened to every document (seed 000 §5, DESIGN.md workflows 3 and 7): one document's
history (:mod:`.document`), documents found by name (:mod:`.search`), a dossier's status
(:mod:`.dossier`), and sending failed deliveries again (:mod:`.retry`).

The bot (``history``, ``status``, Retry buttons) and the panel (History drawer, dashboard) call
these. Who sees what is :func:`hub.rights.visible_dossiers`, and who may send again
:func:`hub.rights.may_retry`; a dossier one may not see answers :class:`~hub.errors.NotFound`,
the same as one that does not exist. The failed-sends and activity dashboards are in
:mod:`hub.dashboards`.
"""

from hub.history.deliveries import AttemptEntry, DeliveryEntry
from hub.history.document import DocumentHistory, VersionEntry, document_history
from hub.history.dossier import (
    ConnectedApplication,
    DossierStatus,
    RecentDelivery,
    dossier_status,
    example_dossier,
)
from hub.history.retry import MAX_RETRY, RetryResult, retry, retry_deliveries
from hub.history.search import (
    DeliveryStatus,
    DocumentMatch,
    DocumentMatches,
    VersionSummary,
    find_documents,
)
from hub.history.sent import SentEntry, SentToday, sent_today, today_in

__all__ = [
    "MAX_RETRY",
    "AttemptEntry",
    "ConnectedApplication",
    "DeliveryEntry",
    "DeliveryStatus",
    "DocumentHistory",
    "DocumentMatch",
    "DocumentMatches",
    "DossierStatus",
    "RecentDelivery",
    "RetryResult",
    "SentEntry",
    "SentToday",
    "VersionEntry",
    "VersionSummary",
    "document_history",
    "dossier_status",
    "example_dossier",
    "find_documents",
    "retry",
    "retry_deliveries",
    "sent_today",
    "today_in",
]
