"""Counting the SQL statements a use-case sends: how tests prove work is done in bulk.

Wall-clock limits in tests fail on a busy machine and pass on a slow algorithm that happens to run
on a fast one; the number of round trips does neither. ``bench/`` measures the time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from storage.db import Sessions


@contextmanager
def statements(sessions: Sessions) -> Iterator[list[str]]:
    """The statements sent to the database inside the block (one entry per cursor execute; a
    bulk insert sent as a few multi-row batches counts a few)."""
    engine = sessions.kw["bind"].sync_engine
    sent: list[str] = []

    def record(*args: Any) -> None:
        sent.append(str(args[2]))  # (connection, cursor, statement, parameters, context, many)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)
