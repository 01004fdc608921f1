"""The bot's state store: documents survive, concurrent turns cannot overwrite each other."""

from __future__ import annotations

import pytest

from bot.state import DatabaseStorage
from storage.bot_state import StaleStateError
from storage.db import Sessions


async def test_state_written_is_read_back_with_an_etag(sessions: Sessions) -> None:
    storage = DatabaseStorage(sessions)
    await storage.write(
        {"msteams/conversations/a:1/": {"step": "choose-dossier", "dossier": "DUP001"}}
    )
    read = await storage.read(["msteams/conversations/a:1/", "missing"])
    assert list(read) == ["msteams/conversations/a:1/"]
    assert read["msteams/conversations/a:1/"]["dossier"] == "DUP001"
    assert read["msteams/conversations/a:1/"]["e_tag"]


async def test_a_stale_write_is_refused_and_changes_nothing(sessions: Sessions) -> None:
    storage = DatabaseStorage(sessions)
    await storage.write({"k": {"count": 1}})
    first = (await storage.read(["k"]))["k"]
    await storage.write({"k": {**first, "count": 2}})  # another turn wins
    with pytest.raises(StaleStateError):
        await storage.write({"k": {**first, "count": 3}})
    assert (await storage.read(["k"]))["k"]["count"] == 2
    await storage.write({"k": {"count": 4, "e_tag": "*"}})  # "*" means last writer wins
    assert (await storage.read(["k"]))["k"]["count"] == 4


async def test_deleted_state_is_gone(sessions: Sessions) -> None:
    storage = DatabaseStorage(sessions)
    await storage.write({"a": {"x": 1}, "b": {"x": 2}})
    await storage.delete(["a"])
    assert list(await storage.read(["a", "b"])) == ["b"]
