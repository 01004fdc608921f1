"""Writing the audit trail: every state change says who did what, when, on what."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEvent


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
