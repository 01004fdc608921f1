"""The async engine and sessions, built from a URL; SQLite gets WAL and foreign keys."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

Sessions = async_sessionmaker[AsyncSession]


def create_engine(url: str, *, busy_timeout: float = 30.0, **kwargs: Any) -> AsyncEngine:
    if url.startswith("sqlite"):
        # One writer at a time is SQLite's rule; a generous busy timeout makes writers queue
        # instead of failing with "database is locked" (past it, the faces answer 503).
        kwargs.setdefault("connect_args", {"timeout": busy_timeout})
        engine = create_async_engine(url, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def session_factory(engine: AsyncEngine) -> Sessions:
    return async_sessionmaker(engine, expire_on_commit=False)
