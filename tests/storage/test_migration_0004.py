"""Revision 0004: a database at 0003 holding deliveries is upgraded without losing any of them (or
their attempts), each filled with its dossier and its application's label; afterwards deleting an
application keeps its deliveries. SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import JSON, Boolean, DateTime, Integer, LargeBinary, MetaData, Table, text
from sqlalchemy.engine import Connection as SyncConnection

from storage.db import create_engine
from storage.migrate import current_revision, upgrade_async
from tests.conftest import PostgresDatabases, require


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


def _filler(column: Any) -> Any:
    """A value for a NOT NULL column the test does not care about, by type."""
    kind = column.type
    if isinstance(kind, Boolean):
        return False
    if isinstance(kind, DateTime):
        return datetime.now(UTC)
    if isinstance(kind, JSON):
        return {}
    if isinstance(kind, LargeBinary):
        return b""
    if isinstance(kind, Integer):
        return 0
    return ""


def _insert(connection: SyncConnection, metadata: MetaData, table: str, **values: Any) -> int:
    """Insert into the table as it is at 0003 (reflected: the models are already at head)."""
    reflected = Table(table, metadata, autoload_with=connection)
    row = dict(values)
    for column in reflected.columns:
        if column.name in row or column.nullable or column.primary_key:
            continue
        row[column.name] = _filler(column)
    result = connection.execute(reflected.insert().values(row).returning(reflected.c.id))
    return int(result.scalar_one())


def _arrange_0003(connection: SyncConnection) -> dict[str, int]:
    """One firm, two dossiers, two applications (one connected to each dossier), three
    deliveries (sent, failed, pending) and their attempts."""
    md = MetaData()
    firm = _insert(connection, md, "firm", name="Cabinet", tenant_id="t-0004")
    ids = {"firm": firm}
    ids["d1"] = _insert(connection, md, "dossier", firm_id=firm, code="D1", name="Un")
    ids["d2"] = _insert(connection, md, "dossier", firm_id=firm, code="D2", name="Deux")
    folder = _insert(connection, md, "folder", firm_id=firm, name="Achats", path="Achats")
    for n, label in ((1, "OCR Factures"), (2, "Gestion juridique")):
        catalog = _insert(
            connection, md, "catalog_app", slug=f"app-{n}", label=label, kind="partner"
        )
        firm_app = _insert(connection, md, "firm_application", firm_id=firm, catalog_app_id=catalog)
        ids[f"app{n}"] = firm_app
        ids[f"c{n}"] = _insert(
            connection,
            md,
            "connection",
            firm_id=firm,
            firm_application_id=firm_app,
            dossier_id=ids[f"d{n}"],
        )
    plan = [
        ("a.pdf", "d1", "c1", "sent"),
        ("b.pdf", "d1", "c1", "failed"),
        ("c.pdf", "d2", "c2", "pending"),
    ]
    for name, dossier, connection_key, status in plan:
        document = _insert(
            connection,
            md,
            "document",
            firm_id=firm,
            dossier_id=ids[dossier],
            folder_id=folder,
            name=name,
        )
        version = _insert(
            connection,
            md,
            "document_version",
            firm_id=firm,
            document_id=document,
            number=1,
            sha256="0" * 64,
            size=10,
            content_type="application/pdf",
            uploaded_by="cli",
            source="cli",
        )
        delivery = _insert(
            connection,
            md,
            "delivery",
            firm_id=firm,
            document_version_id=version,
            connection_id=ids[connection_key],
            idempotency_key=f"k-{name}",
            status=status,
            failure_reason="too_large" if status == "failed" else None,
            attempts=0 if status == "pending" else 1,
        )
        ids[name] = delivery
        if status != "pending":
            _insert(
                connection,
                md,
                "delivery_attempt",
                firm_id=firm,
                delivery_id=delivery,
                outcome="sent" if status == "sent" else "refused",
                detail=f"answer for {name}",
            )
    return ids


async def test_upgrading_0003_to_0004_keeps_every_delivery_and_attempt(empty_database: str) -> None:
    await upgrade_async(empty_database, "0003")
    engine = create_engine(empty_database)
    async with engine.begin() as connection:
        ids = await connection.run_sync(_arrange_0003)
    await engine.dispose()

    await upgrade_async(empty_database, "0004")

    engine = create_engine(empty_database)
    try:
        assert await current_revision(engine) == "0004"
        async with engine.connect() as connection:
            deliveries = {
                row.idempotency_key: row
                for row in await connection.execute(
                    text(
                        "SELECT id, idempotency_key, status, failure_reason, connection_id,"
                        " dossier_id, application_label FROM delivery"
                    )
                )
            }
            attempts = [
                tuple(row)
                for row in await connection.execute(
                    text("SELECT delivery_id, outcome, detail FROM delivery_attempt ORDER BY id")
                )
            ]
        assert set(deliveries) == {"k-a.pdf", "k-b.pdf", "k-c.pdf"}
        sent, failed, pending = (deliveries[f"k-{n}.pdf"] for n in "abc")
        assert (sent.status, failed.status, failed.failure_reason, pending.status) == (
            "sent",
            "failed",
            "too_large",
            "pending",
        )
        assert (sent.dossier_id, sent.application_label) == (ids["d1"], "OCR Factures")
        assert (pending.dossier_id, pending.application_label) == (ids["d2"], "Gestion juridique")
        assert (sent.connection_id, pending.connection_id) == (ids["c1"], ids["c2"])
        # Not one attempt lost, although SQLite rebuilt the table they point at.
        assert attempts == [
            (ids["a.pdf"], "sent", "answer for a.pdf"),
            (ids["b.pdf"], "refused", "answer for b.pdf"),
        ]

        # After the upgrade, deleting an application's row keeps its deliveries and attempts.
        async with engine.begin() as connection:
            await connection.execute(
                text("DELETE FROM connection WHERE firm_application_id = :a"), {"a": ids["app1"]}
            )
            await connection.execute(
                text("DELETE FROM firm_application WHERE id = :a"), {"a": ids["app1"]}
            )
        async with engine.connect() as connection:
            kept = (
                await connection.execute(
                    text(
                        "SELECT count(*), count(connection_id) FROM delivery WHERE dossier_id = :d"
                    ),
                    {"d": ids["d1"]},
                )
            ).one()
            attempts_left = await connection.scalar(text("SELECT count(*) FROM delivery_attempt"))
        assert tuple(kept) == (2, 0) and attempts_left == 2
    finally:
        await engine.dispose()


async def test_0004_downgrades_and_upgrades_again(empty_database: str) -> None:
    """The way back drops what 0003 cannot hold (deliveries without a connection) and nothing
    else; upgrading again fills the columns again."""
    from storage.migrate import alembic_config

    await upgrade_async(empty_database, "0003")
    engine = create_engine(empty_database)
    async with engine.begin() as connection:
        ids = await connection.run_sync(_arrange_0003)
    await engine.dispose()
    await upgrade_async(empty_database, "0004")
    engine = create_engine(empty_database)
    async with engine.begin() as connection:
        await connection.execute(
            text("DELETE FROM connection WHERE id = :c"), {"c": ids["c2"]}
        )  # c.pdf's delivery loses its connection
    await engine.dispose()

    import asyncio

    from alembic import command

    await asyncio.to_thread(command.downgrade, alembic_config(empty_database), "0003")
    engine = create_engine(empty_database)
    try:
        async with engine.connect() as connection:
            keys = set(
                (await connection.execute(text("SELECT idempotency_key FROM delivery"))).scalars()
            )
            attempts = await connection.scalar(text("SELECT count(*) FROM delivery_attempt"))
        assert keys == {"k-a.pdf", "k-b.pdf"} and attempts == 2
    finally:
        await engine.dispose()
    await upgrade_async(empty_database, "0004")
    engine = create_engine(empty_database)
    try:
        async with engine.connect() as connection:
            labels = set(
                (await connection.execute(text("SELECT application_label FROM delivery"))).scalars()
            )
        assert labels == {"OCR Factures"}
    finally:
        await engine.dispose()
