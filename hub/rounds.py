"""Background rounds that one process of the deployment runs at a time.

Several ``relais serve`` may run behind a load balancer on PostgreSQL; each starts the same
background rounds (failure notices, invitation refresh). A session-level advisory lock held for
the round lets one of them run it and the others skip it, instead of telling or asking twice. On
SQLite there is one server: every round runs.

Its own module rather than a part of :mod:`hub.notices`: the invitation refresh (started by
``relais.app``) takes turns through it too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text

from hub.services import Hub

# One advisory-lock key per kind of round ("RELAIS" and a number, as 64-bit integers).
NOTICES = 0x52_45_4C_41_49_53_4E_31
INVITATIONS = 0x52_45_4C_41_49_53_4E_32


@asynccontextmanager
async def exclusive_round(hub: Hub, key: int) -> AsyncIterator[bool]:
    """Whether this process may run the round ``key`` now (held until the block ends)."""
    if hub.settings.is_sqlite:
        yield True
        return
    async with hub.sessions() as session:
        got = bool(await session.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}))
        try:
            yield got
        finally:
            if got:
                await session.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                await session.commit()
