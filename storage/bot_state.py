"""Key-value documents for the bot's state, with optimistic concurrency on an etag.

Kept free of botbuilder's types (``bot/state.py`` adapts them), so that moving to the Agents SDK
leaves this file as it is.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from storage.db import Sessions
from storage.models import BotState, new_id


class StaleStateError(Exception):
    """Another turn changed the document since it was read (etag mismatch)."""


async def read_documents(sessions: Sessions, keys: list[str]) -> dict[str, dict[str, Any]]:
    if not keys:
        return {}
    async with sessions() as session:
        rows = await session.scalars(select(BotState).where(BotState.key.in_(keys)))
        return {row.key: {**row.document, "e_tag": row.etag} for row in rows}


async def write_documents(sessions: Sessions, changes: dict[str, dict[str, Any]]) -> None:
    """Write every document or none. An etag other than ``*`` or None must match the stored one."""
    if not changes:
        return
    async with sessions() as session, session.begin():
        stored = {
            row.key: row
            for row in await session.scalars(
                select(BotState).where(BotState.key.in_(list(changes))).with_for_update()
            )
        }
        for key, document in changes.items():
            body = {k: v for k, v in document.items() if k != "e_tag"}
            expected = document.get("e_tag")
            row = stored.get(key)
            if row is None:
                session.add(BotState(key=key, document=body, etag=new_id()))
                continue
            if expected not in (None, "*") and expected != row.etag:
                raise StaleStateError(f"bot state {key!r} changed since it was read")
            row.document = body
            row.etag = new_id()


async def delete_documents(sessions: Sessions, keys: list[str]) -> None:
    if not keys:
        return
    async with sessions() as session, session.begin():
        await session.execute(delete(BotState).where(BotState.key.in_(keys)))
