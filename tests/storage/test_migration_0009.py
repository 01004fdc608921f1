"""Revision 0009: the name index holds folded names. A database at 0008 holding documents with
accents is upgraded and they are found without them; the index follows new, renamed and deleted
documents; the way back to 0008 leaves 0006's index, filled. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from alembic import command
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection as SyncConnection

from storage.db import create_engine
from storage.migrate import alembic_config, upgrade_async
from tests.storage.test_migration_0004 import _insert
from tests.storage.test_migration_0006 import _execute, _names, empty_database

__all__ = ["empty_database"]  # the fixture

NAMES = ["Relevé-0412.pdf", "ÉTAT des lieux.pdf", "facture-0412-edf.pdf", "cœur.txt"]


def _arrange(connection: SyncConnection) -> dict[str, int]:
    md = MetaData()
    firm = _insert(connection, md, "firm", name="Cabinet", tenant_id="t-0009")
    dossier = _insert(connection, md, "dossier", firm_id=firm, code="D1", name="Un")
    folder = _insert(connection, md, "folder", firm_id=firm, name="Achats", path="Achats")
    ids = {"firm": firm, "dossier": dossier, "folder": folder}
    for name in NAMES:
        ids[name] = _insert(
            connection,
            md,
            "document",
            firm_id=firm,
            dossier_id=dossier,
            folder_id=folder,
            name=name,
        )
    return ids


async def test_upgrading_0008_folds_the_names_already_there(empty_database: str) -> None:
    url = empty_database
    await upgrade_async(url, "0008")
    engine = create_engine(url)
    async with engine.begin() as connection:
        ids = await connection.run_sync(_arrange)
    await engine.dispose()
    await upgrade_async(url, "0009")
    firm = ids["firm"]
    assert await _names(url, firm, "releve") == ["Relevé-0412.pdf"]
    assert await _names(url, firm, "RELEVÉ") == ["Relevé-0412.pdf"]
    assert await _names(url, firm, "etat LIEUX") == ["ÉTAT des lieux.pdf"]
    assert await _names(url, firm, "edf facture") == ["facture-0412-edf.pdf"]
    assert await _names(url, firm, "coeur") == ["cœur.txt"]
    # Afterwards the index follows the table, whoever writes to it.
    await _execute(url, "UPDATE document SET name = 'Été.pdf' WHERE id = :i", i=ids["cœur.txt"])
    await _execute(url, "DELETE FROM document WHERE id = :i", i=ids["Relevé-0412.pdf"])
    assert await _names(url, firm, "ete") == ["Été.pdf"]
    assert await _names(url, firm, "coeur") == []
    assert await _names(url, firm, "releve") == []

    await asyncio.to_thread(command.downgrade, alembic_config(url), "0008")
    await upgrade_async(url, "head")
    assert await _names(url, firm, "ETE") == ["Été.pdf"]
    assert await _names(url, firm, "0412") == ["facture-0412-edf.pdf"]
