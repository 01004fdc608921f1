"""The audit trail: every state change is an event (who, what, when, on what), written in the
change's own transaction (:func:`record`, :mod:`hub.audit.events`) and read back by the panel's
audit log with filters, names instead of references and keyset pages (:mod:`hub.audit.trail`,
the names from :mod:`hub.audit.labels`). The sentences people read are the faces' (i18n)."""

from hub.audit.events import record
from hub.audit.trail import (
    AuditChoices,
    AuditEntry,
    AuditFilters,
    AuditPage,
    filter_choices,
    list_events,
    parse_filters,
)

__all__ = [
    "AuditChoices",
    "AuditEntry",
    "AuditFilters",
    "AuditPage",
    "filter_choices",
    "list_events",
    "parse_filters",
    "record",
]
