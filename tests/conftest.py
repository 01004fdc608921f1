"""Fixtures every test shares: a migrated database on SQLite (and PostgreSQL when
``RELAIS_TEST_DATABASE_URL`` is set), settings pointing at it, and the real app on a test server.

Each test gets its own database, copied from one migrated template, so tests never see each
other's rows and migrations run once per run, not once per test.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from sqlalchemy import text
from sqlalchemy.engine import make_url

from hub.settings import Settings
from storage.migrate import upgrade

pytest_plugins = ["tests.fakes.fixtures", "tests.fakes.partner_fixtures"]

# Generative tests: "ci" (the default) keeps each around half a minute; "long" is for a local
# hunt (`pytest --hypothesis-profile=long tests/bot/test_generative_activities.py`). Their
# examples share one running app (a fixture), hence the health check left out; no deadline,
# since a turn's time depends on the database and the machine's load.
_GENERATIVE = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    "print_blob": True,
}
hypothesis_settings.register_profile("ci", max_examples=500, database=None, **_GENERATIVE)
hypothesis_settings.register_profile("long", max_examples=5000, **_GENERATIVE)
hypothesis_settings.load_profile("ci")

PG_URL = os.environ.get("RELAIS_TEST_DATABASE_URL", "")
IN_CI = os.environ.get("CI", "").lower() == "true"


def require(condition: bool, reason: str) -> None:
    """Skip when a service is missing on a developer's machine; fail under CI, where it must be."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI must provide it: a skip under CI is a failure)")
    pytest.skip(reason)


# --------------------------------------------------------------------------- Azurite

ROOT = Path(__file__).resolve().parent.parent
AZURITE_PREFIX = ROOT / ".cache" / "azurite"
AZURITE_BIN = AZURITE_PREFIX / "node_modules" / ".bin" / "azurite-blob"
# Azurite's development account: its key is published in Azurite's documentation.
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


@dataclass(frozen=True)
class Azurite:
    """A local Azure Blob Storage emulator for the tests' whole run."""

    port: int

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/{AZURITE_ACCOUNT}"

    def connection_string(self, key: str = AZURITE_KEY) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={key};"
            f"BlobEndpoint={self.endpoint};"
        )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _install_azurite() -> None:
    if AZURITE_BIN.exists():
        return
    npm = shutil.which("npm")
    require(npm is not None, "Azure Blob Storage tests need npm (to install Azurite)")
    assert npm is not None
    AZURITE_PREFIX.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [npm, "install", "--prefix", str(AZURITE_PREFIX), "--no-audit", "--no-fund", "azurite@3"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    require(
        done.returncode == 0 and AZURITE_BIN.exists(),
        f"Azure Blob Storage tests need Azurite; `npm install azurite@3` failed: "
        f"{done.stderr.strip()[-500:]}",
    )


def azurite_command(port: int, location: Path) -> list[str]:
    """Azurite's blob service on loopback, keeping its files in ``location``."""
    return [
        str(AZURITE_BIN),
        "--silent",
        "--disableTelemetry",
        "--location",
        str(location),
        "--blobHost",
        "127.0.0.1",
        "--blobPort",
        str(port),
        # The SDK may be newer than the emulator: its API version is accepted all the same.
        "--skipApiVersionCheck",
        "--loose",
    ]


def _wait_for_port(port: int, process: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Azurite exited at start (code {process.returncode})")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)  # start-up, not a test waiting for a result
    raise RuntimeError(f"Azurite did not listen on port {port} within {seconds} s")


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """Azurite's blob service on a free port (installed into .cache/azurite when missing)."""
    _install_azurite()
    port = _free_port()
    process = subprocess.Popen(
        azurite_command(port, tmp_path_factory.mktemp("azurite")),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, process)
        yield Azurite(port)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --------------------------------------------------------------------------- databases


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


class PostgresDatabases:
    """Creates throw-away databases on the test server from one migrated template."""

    def __init__(self, url: str) -> None:
        self.base = make_url(Settings(database_url=url, _env_file=None).database_url)  # type: ignore[call-arg]
        self.template = f"relais_tpl_{uuid.uuid4().hex[:8]}"
        self.created: list[str] = [self.template]
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._dropper: threading.Thread | None = None

    def _execute(self, sql: str) -> None:
        # asyncpg is the app's driver; the sync side of SQLAlchemy needs one too, so administrative
        # statements go through the async engine run to completion here.
        import asyncio

        from sqlalchemy.ext.asyncio import create_async_engine

        async def run() -> None:
            engine = create_async_engine(
                self.base.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT"
            )
            async with engine.connect() as connection:
                await connection.execute(text(sql))
            await engine.dispose()

        asyncio.run(run())

    def url_for(self, name: str) -> str:
        return self.base.set(database=name).render_as_string(hide_password=False)

    def make_template(self) -> None:
        self._execute(f'CREATE DATABASE "{self.template}"')
        upgrade(self.url_for(self.template))

    def fresh(self) -> str:
        name = f"relais_t_{uuid.uuid4().hex[:10]}"
        self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        self.created.append(name)
        return self.url_for(name)

    def drop_soon(self, url: str) -> None:
        """Drop a test's database in the background: each DROP DATABASE waits for a checkpoint
        (about half a second), which, saved for the end of a run of some 800 databases, cost
        nearly three minutes; done beside the next tests it costs almost nothing."""
        name = make_url(url).database
        if self._dropper is None:
            self._dropper = threading.Thread(target=self._drop_queued, daemon=True)
            self._dropper.start()
        self._queue.put(name)

    def _drop_queued(self) -> None:
        while (name := self._queue.get()) is not None:
            with contextlib.suppress(Exception):  # dropped again, and reported, by drop_all
                self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                self.created.remove(name)
            self._queue.task_done()

    def drop_all(self) -> None:
        if self._dropper is not None:
            self._queue.put(None)
            self._dropper.join()
        for name in reversed(self.created):
            self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresDatabases | None]:
    if not PG_URL:
        yield None
        return
    databases = PostgresDatabases(PG_URL)
    databases.make_template()
    yield databases
    databases.drop_all()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest,
    sqlite_template: Path,
    postgres: PostgresDatabases | None,
    tmp_path: Path,
) -> Iterator[str]:
    """A fresh, migrated database; every test that takes it runs once per backend."""
    if request.param == "sqlite":
        path = tmp_path / "relais.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    require(postgres is not None, "PostgreSQL tests need RELAIS_TEST_DATABASE_URL")
    assert postgres is not None
    url = postgres.fresh()
    yield url
    postgres.drop_soon(url)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Demo-mode settings on the test database; tests that need more use ``model_copy``."""
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=database_url,
        demo=True,
        data_dir=tmp_path / "data",
        # A key as `relais keys generate` makes them: production mode refuses passphrases.
        encryption_key="Qm6jkIrV5m0Cq0lAeg3yFYkxPq6w7CKb3Z1Sx0oZ4Ps=",
        base_url="http://127.0.0.1:3978",
    )


@pytest.fixture
async def sessions(settings: Settings) -> AsyncIterator[object]:
    """An async session factory on the test database, for arranging data and checking results."""
    from storage.db import create_engine, session_factory

    engine = create_engine(settings.database_url)
    yield session_factory(engine)
    await engine.dispose()


@pytest.fixture
async def demo(sessions: object) -> object:
    """The demo firm (staff of each role, 200 dossiers, contacts, catalog), as ``relais demo``
    makes it. Where the demo firm is not the point, arrange a small scene instead
    (``tests/scenes.py``), such as ``office``."""
    from relais.demo import seed

    return await seed(sessions)  # type: ignore[arg-type]


@pytest.fixture
async def office(sessions: object) -> object:
    """A small firm of the test's own (``tests.scenes.office``): its administrator, the Achats
    and Ventes folders with their 2025 sub-folders, and one dossier, ``DOS001``, the
    administrator masters."""
    from tests import scenes

    return await scenes.office(sessions)  # type: ignore[arg-type]


@pytest.fixture
def hub(settings: Settings, sessions: object) -> object:
    """The use-cases' services on the test database (mail goes to ``settings.smtp_*``: point them
    at ``fake_smtp`` with ``settings.model_copy`` when a test reads mail)."""
    from relais.services import build_services

    return build_services(settings, sessions)  # type: ignore[arg-type]
