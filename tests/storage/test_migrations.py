"""Migrations: the head builds the models' schema, upgrades keep data, the server refuses an old database."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text

from hub.settings import Settings
from relais.app import build_app
from storage.db import create_engine
from storage.migrate import current_revision, head_revision, upgrade_async
from storage.models import Base


async def test_migrated_database_has_every_model_table(settings: Settings) -> None:
    engine = create_engine(settings.database_url)
    async with engine.connect() as connection:
        tables = set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
    assert set(Base.metadata.tables) <= tables
    assert await current_revision(engine) == head_revision()
    await engine.dispose()


async def test_upgrade_again_keeps_the_data(settings: Settings) -> None:
    from storage.db import session_factory
    from storage.models import Dossier
    from tests import scenes

    engine = create_engine(settings.database_url)
    office = await scenes.office(session_factory(engine), dossier_count=3)
    await engine.dispose()
    await upgrade_async(
        settings.database_url
    )  # what `relais db upgrade` does on a database already at head
    engine = create_engine(settings.database_url)
    async with engine.connect() as connection:
        codes = (await connection.execute(select(Dossier.code))).scalars().all()
    await engine.dispose()
    assert sorted(codes) == [d.code for d in office.dossiers] == ["DOS001", "DOS002", "DOS003"]


async def test_server_refuses_a_database_behind_the_code(
    tmp_path: Path, aiohttp_client: object
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.execute(
            text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        )
    await engine.dispose()
    settings = Settings(_env_file=None, database_url=url, demo=True)  # type: ignore[call-arg]
    with pytest.raises(Exception, match="relais db upgrade"):
        await aiohttp_client(build_app(settings))  # type: ignore[operator]


async def test_the_migrations_build_exactly_the_models_schema(settings: Settings) -> None:
    """A model change without its Alembic revision (or the reverse) fails here."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from storage.search import include_name

    engine = create_engine(settings.database_url)
    async with engine.connect() as connection:
        # Without the search index on document names (no model: storage/search.py).
        differences = await connection.run_sync(
            lambda c: compare_metadata(
                MigrationContext.configure(c, opts={"include_name": include_name}),
                Base.metadata,
            )
        )
    await engine.dispose()
    assert differences == []
