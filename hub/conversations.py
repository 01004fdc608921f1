"""Where to reach people later: the conversation references proactive messages need."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from hub.identity import Actor
from storage.db import Sessions
from storage.models import ConversationRef


async def remember(
    sessions: Sessions, actor: Actor, aad_object_id: str, reference: dict[str, Any]
) -> bool:
    """Store (or refresh) the person's reference; returns True when it changed.

    Called on every turn, so it writes only when something differs: most turns cost one read.
    """
    async with sessions() as session, session.begin():
        row = await session.scalar(
            select(ConversationRef).where(
                ConversationRef.firm_id == actor.firm_id,
                ConversationRef.aad_object_id == aad_object_id,
            )
        )
        if row is not None and row.reference == reference and row.person == actor.ref:
            return False
        if row is None:
            row = ConversationRef(firm_id=actor.firm_id, aad_object_id=aad_object_id)
            session.add(row)
        row.person = actor.ref
        row.reference = reference
        return True


async def reference_for(sessions: Sessions, firm_id: int, person: str) -> dict[str, Any] | None:
    async with sessions() as session:
        row = await session.scalar(
            select(ConversationRef).where(
                ConversationRef.firm_id == firm_id, ConversationRef.person == person
            )
        )
        return dict(row.reference) if row else None
