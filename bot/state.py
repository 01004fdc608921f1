"""botbuilder's ``Storage`` on the database (``storage/bot_state.py``), so state survives restarts
and is shared by every ``relais serve`` behind a load balancer."""

from __future__ import annotations

import json
from typing import Any

from botbuilder.core import Storage

from storage.bot_state import delete_documents, read_documents, write_documents
from storage.db import Sessions


def _plain(value: Any) -> Any:
    """State may hold SDK objects (``StoreItem``, ``Activity``); store them as plain JSON."""

    def default(obj: Any) -> Any:
        if hasattr(obj, "serialize"):
            return obj.serialize()
        return vars(obj)

    return json.loads(json.dumps(value, default=default))


class DatabaseStorage(Storage):
    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def read(self, keys: list[str]) -> dict[str, Any]:
        return await read_documents(self._sessions, list(keys))

    async def write(self, changes: dict[str, Any]) -> None:
        await write_documents(
            self._sessions, {key: _plain(value) for key, value in changes.items()}
        )

    async def delete(self, keys: list[str]) -> None:
        await delete_documents(self._sessions, list(keys))
