"""The harness of the panel's browser tests: `relais demo` started exactly as the README says, on
a free port and a fresh SQLite file, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from tests.conftest import require

if TYPE_CHECKING:
    from hub.identity import Actor
    from hub.services import Hub
    from relais.demo import DemoInfo

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
RELAIS = Path(sys.executable).with_name("relais")
SCREENSHOTS = Path(os.environ.get("RELAIS_SCREENSHOT_DIR", "/tmp"))
START_TIMEOUT = 60.0

T = TypeVar("T")


@dataclass(frozen=True)
class Demo:
    url: str
    database_url: str


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def database_url(tmp_path: Path) -> str:
    """The SQLite file `run_demo` serves: arrange it first, if the test needs to."""
    return f"sqlite+aiosqlite:///{tmp_path}/relais.db"


def server_log(tmp_path: Path) -> str:
    return (tmp_path / "server.log").read_text(errors="replace")


@contextmanager
def run_demo(
    tmp_path: Path, env: Mapping[str, str] | None = None, *, activity: bool = False
) -> Iterator[Demo]:
    """`relais demo --host 127.0.0.1 --port <port>` on ``database_url(tmp_path)``, with ``env``
    added to the environment, until it is healthy; stopped on exit. Without ``activity``, the
    demo's month of documents (``--no-activity``) stays out of the tests' own arrangements."""
    port = free_port()
    database = database_url(tmp_path)
    environment = {
        **os.environ,
        "RELAIS_DATABASE_URL": database,
        "RELAIS_DATA_DIR": str(tmp_path),
        **(env or {}),
    }
    log = (tmp_path / "server.log").open("w")
    process = subprocess.Popen(
        [
            str(RELAIS),
            "demo",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            *([] if activity else ["--no-activity"]),
        ],
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"relais demo exited ({process.returncode}):\n{server_log(tmp_path)}")
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"relais demo not healthy after {START_TIMEOUT}s:\n{server_log(tmp_path)}"
                )
            time.sleep(0.2)  # polling a starting process, not waiting for an outcome
        assert f"{url}/admin/" in server_log(tmp_path), "the demo banner should print the panel URL"
        yield Demo(url, database)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture
def demo_server(tmp_path: Path) -> Iterator[str]:
    """The URL of `relais demo` on a fresh SQLite file (``database_url(tmp_path)``)."""
    with run_demo(tmp_path) as demo:
        yield demo.url


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium under Playwright (skipped locally when missing, a failure under CI)."""
    require(CHROMIUM.exists(), "Chromium is missing: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def sign_in(page: Any, name: str, at: str | None = None) -> None:
    """Sign in through the demo form as ``name``, after opening ``at`` when given."""
    if at is not None:
        page.goto(at)
    page.get_by_role("button", name=name).click()


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run an arrangement's coroutine: Playwright's sync API keeps an event loop running in this
    thread, so use another one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def arrange_demo(
    database_url: str,
    data_dir: Path,
    arrange: Callable[[Hub, DemoInfo, Actor], Awaitable[T]],
) -> T:
    """Before `run_demo` serves ``database_url``: migrate it, seed the demo firm, and run
    ``arrange(hub, info, admin)`` on it (``admin``: the demo's first staff member)."""
    from hub.identity import resolve
    from hub.settings import Settings
    from relais.demo import seed
    from relais.services import build_services
    from storage.db import create_engine, session_factory
    from storage.migrate import upgrade

    upgrade(database_url)

    async def run() -> T:
        engine = create_engine(database_url)
        sessions = session_factory(engine)
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None, database_url=database_url, demo=True, data_dir=data_dir
        )
        hub = build_services(settings, sessions)
        try:
            info = await seed(sessions)
            admin = await resolve(sessions, info.tenant_id, info.staff[0].object_id)
            return await arrange(hub, info, admin)
        finally:
            await engine.dispose()

    return run_async(run())
