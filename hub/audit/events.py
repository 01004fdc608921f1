"""Writing the audit trail: every state change says who did what, when, on what.

:data:`ACTIONS` and :data:`TARGETS` are every kind of event and of object the trail holds: the
panel's audit log has a sentence and a label for each, in every language
(``tests/admin/test_audit_words.py`` finds every kind the code records, checks it is listed
here and that both catalogs have its words), so no kind reaches people as a code.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEvent

ACTIONS = frozenset(
    {
        "api_token.created",
        "api_token.revoked",
        "application.added",
        "application.deleted",
        "application.updated",
        "connection.disconnected",
        "connections.folder_applied",
        "connections.imported",
        "connections.saved",
        "contact.app_installed",
        "contact.created",
        "contact.dossier_linked",
        "contact.dossier_unlinked",
        "contact_access.revoked",
        "deliveries.retried",
        "demo.seeded",
        "document.received",
        "dossier.application_off",
        "dossier.application_on",
        "failures.notified",
        "folder.added",
        "folder.deleted",
        "folder.renamed",
        "import.contacts",
        "import.dossiers",
        "import.staff",
        "invitation.accepted",
        "invitation.checked",
        "invitation.failed",
        "invitation.pending",
        "invitation.recognised",
        "invitation.sent",
        "offer.accepted",
        "offer.declined",
        "offer.sent",
        "offer.unreachable",
        "panel.signed_in",
        "panel.signed_out",
        "staff.failure_notices",
        "staff.updated",
        "tenant.consent_checked",
        "tenant.consent_lost",
        "tenant.consent_recorded",
        "tenant.consent_refused",
    }
)
TARGETS = frozenset(
    {
        "api_token",
        "contact",
        "delivery",
        "document_version",
        "dossier",
        "firm",
        "firm_application",
        "folder",
        "import",
        "staff_user",
    }
)


def record(
    session: AsyncSession,
    firm_id: int,
    actor: str,
    action: str,
    target_type: str = "",
    target_id: object = "",
    **details: Any,
) -> AuditEvent:
    """Add the event to the caller's transaction, so it commits (or not) with the change."""
    event = AuditEvent(
        firm_id=firm_id,
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        details=details,
    )
    session.add(event)
    return event
