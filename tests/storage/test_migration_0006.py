"""Revision 0006: a database at 0005 holding documents is upgraded and its documents are found by a
part of their name at once (the index is filled from the existing rows); the index then follows
new, renamed and deleted documents; the way back removes it and search still works without it.
SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import MetaData, inspect, text
from sqlalchemy.engine import Connection as SyncConnection

from hub.history import find_documents
from hub.identity import Actor
from hub.settings import Settings
from relais.services import build_services
from storage.db import create_engine, session_factory
from storage.migrate import alembic_config, current_revision, upgrade_async

# Revision 0006's index (0009 replaces it with one on folded names).
from storage.search import FTS_TABLE
from storage.search import OLD_TRGM_INDEX as TRGM_INDEX
from tests.conftest import PostgresDatabases, require
from tests.storage.test_migration_0004 import _insert

OLD_NAMES = ["Facture-0412.pdf", "état des lieux.pdf", 'devis "urgent".pdf', "x.y"]


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(
    request: pytest.FixtureRequest, postgres: PostgresDatabases | None, tmp_path: Path
) -> Iterator[str]:
    """A database with no schema at all (the shared template is already at head)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
        return
    require(postgres is not None, "PostgreSQL tests need RELAIS_TEST_DATABASE_URL")
    assert postgres is not None
    name = f"relais_m_{uuid.uuid4().hex[:10]}"
    postgres._execute(f'CREATE DATABASE "{name}"')
    postgres.created.append(name)
    yield postgres.url_for(name)


def _arrange_0005(connection: SyncConnection) -> dict[str, int]:
    md = MetaData()
    firm = _insert(connection, md, "firm", name="Cabinet", tenant_id="t-0006")
    dossier = _insert(connection, md, "dossier", firm_id=firm, code="D1", name="Un")
    folder = _insert(connection, md, "folder", firm_id=firm, name="Achats", path="Achats")
    ids = {"firm": firm, "dossier": dossier, "folder": folder}
    for name in OLD_NAMES:
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


def _search_objects(connection: SyncConnection) -> set[str]:
    """The index's own objects: the FTS table and triggers on SQLite, the GIN index on PostgreSQL."""
    if connection.dialect.name == "sqlite":
        rows = connection.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE name LIKE 'document_name_fts%'"
        )
        return {name for (name,) in rows}
    return {i["name"] for i in inspect(connection).get_indexes("document")} & {TRGM_INDEX}


def _admin(firm_id: int) -> Actor:
    return Actor(
        firm_id=firm_id, firm_name="Cabinet", kind="system", id=0, display_name="cli", locale="fr"
    )


async def _names(url: str, firm_id: int, term: str) -> list[str]:
    engine = create_engine(url)
    try:
        settings = Settings(_env_file=None, database_url=url, demo=True)  # type: ignore[call-arg]
        hub = build_services(settings, session_factory(engine))
        return [m.name for m in (await find_documents(hub, _admin(firm_id), term)).items]
    finally:
        await engine.dispose()


async def _execute(url: str, sql: str, **values: object) -> None:
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.execute(text(sql), values)
    await engine.dispose()


async def test_upgrading_0005_indexes_the_documents_already_there(empty_database: str) -> None:
    url = empty_database
    await upgrade_async(url, "0005")
    engine = create_engine(url)
    async with engine.begin() as connection:
        ids = await connection.run_sync(_arrange_0005)
    await engine.dispose()

    await upgrade_async(url, "0006")

    engine = create_engine(url)
    try:
        assert await current_revision(engine) == "0006"
        async with engine.connect() as connection:
            objects = await connection.run_sync(_search_objects)
        if url.startswith("sqlite"):
            assert {FTS_TABLE, f"{FTS_TABLE}_ai", f"{FTS_TABLE}_ad", f"{FTS_TABLE}_au"} <= objects
        else:
            assert TRGM_INDEX in objects
    finally:
        await engine.dispose()
    # Today's search reads the index as the latest revision builds it, from the same rows.
    await upgrade_async(url, "head")
    firm = ids["firm"]
    assert await _names(url, firm, "FACTURE-04") == ["Facture-0412.pdf"]
    assert await _names(url, firm, "ÉTAT DES") == ["état des lieux.pdf"]
    assert await _names(url, firm, '"urgent"') == ['devis "urgent".pdf']
    assert await _names(url, firm, "X.Y") == ["x.y"]

    # Afterwards the index follows the table.
    await _execute(
        url, "UPDATE document SET name = 'avoir-0412.pdf' WHERE id = :i", i=ids["Facture-0412.pdf"]
    )
    await _execute(url, "DELETE FROM document WHERE id = :i", i=ids["x.y"])
    await _execute(
        url,
        "INSERT INTO document (firm_id, dossier_id, folder_id, name, created_at)"
        " VALUES (:f, :d, :o, 'nouvelle facture.pdf', CURRENT_TIMESTAMP)",
        f=firm,
        d=ids["dossier"],
        o=ids["folder"],
    )
    assert await _names(url, firm, "facture") == ["nouvelle facture.pdf"]
    assert await _names(url, firm, "0412") == ["avoir-0412.pdf"]
    assert await _names(url, firm, "x.y") == []


async def test_0006_downgrades_and_upgrades_again(empty_database: str) -> None:
    url = empty_database
    await upgrade_async(url, "0005")
    engine = create_engine(url)
    async with engine.begin() as connection:
        ids = await connection.run_sync(_arrange_0005)
    await engine.dispose()
    await upgrade_async(url, "0006")

    await asyncio.to_thread(command.downgrade, alembic_config(url), "0005")
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(_search_objects) == set()
            if not url.startswith("sqlite"):
                extension = await connection.scalar(
                    text("SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'")
                )
                assert extension == 0
    finally:
        await engine.dispose()
    # Documents renamed while there was no index are found right once it is back.
    await _execute(
        url, "UPDATE document SET name = 'bilan.pdf' WHERE id = :i", i=ids["Facture-0412.pdf"]
    )
    await upgrade_async(url, "head")
    firm = ids["firm"]
    assert await _names(url, firm, "bilan") == ["bilan.pdf"]
    assert await _names(url, firm, "facture") == []


def test_without_the_right_to_create_pg_trgm_the_upgrade_says_what_to_do(
    postgres: PostgresDatabases | None,
) -> None:
    """A managed server where the application's user may not create extensions: the upgrade
    stops with what to ask the administrator, changes nothing, and goes through once the
    extension is there."""
    from sqlalchemy.engine import make_url

    require(postgres is not None, "PostgreSQL tests need RELAIS_TEST_DATABASE_URL")
    assert postgres is not None
    suffix = uuid.uuid4().hex[:10]
    role, name = f"relais_r_{suffix}", f"relais_m_{suffix}"
    # A password too, for servers that ask for one (the test server may trust local users).
    postgres._execute(f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{suffix}'")
    postgres._execute(f'CREATE DATABASE "{name}"')
    try:
        admin_url = postgres.url_for(name)
        asyncio.run(_execute(admin_url, f'GRANT ALL ON SCHEMA public TO "{role}"'))
        # Tables are the role's, but not the database: no right to create an extension.
        url = make_url(admin_url).set(username=role, password=suffix)
        role_url = url.render_as_string(hide_password=False)

        def upgrade_to(revision: str) -> None:
            asyncio.run(upgrade_async(role_url, revision))

        upgrade_to("0005")
        with pytest.raises(RuntimeError) as refused:
            upgrade_to("0006")
        message = str(refused.value)
        assert "CREATE EXTENSION IF NOT EXISTS pg_trgm" in message
        assert "relais db upgrade" in message and "azure.extensions" in message

        async def revision() -> str | None:
            engine = create_engine(role_url)
            try:
                return await current_revision(engine)
            finally:
                await engine.dispose()

        assert asyncio.run(revision()) == "0005"
        asyncio.run(_execute(admin_url, "CREATE EXTENSION IF NOT EXISTS pg_trgm"))
        upgrade_to("0006")
        assert asyncio.run(revision()) == "0006"
    finally:
        postgres._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        postgres._execute(f'DROP ROLE IF EXISTS "{role}"')
