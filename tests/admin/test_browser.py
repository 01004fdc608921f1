"""The panel in a real browser: Debian's Chromium, driven by Playwright, against `relais demo`
started exactly as the README says."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.admin.conftest import NAV_LABELS
from tests.conftest import require

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

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def demo_server(tmp_path: Path) -> Iterator[str]:
    """`relais demo --host 127.0.0.1 --port <port>` on a fresh SQLite file, until it is healthy."""
    port = _free_port()
    env = {
        **os.environ,
        "RELAIS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/relais.db",
        "RELAIS_DATA_DIR": str(tmp_path),
    }
    log = (tmp_path / "server.log").open("w")
    process = subprocess.Popen(
        [str(RELAIS), "demo", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"relais demo exited ({process.returncode}):\n{_read(tmp_path)}")
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"relais demo not healthy after {START_TIMEOUT}s:\n{_read(tmp_path)}")
            time.sleep(0.2)  # polling a starting process, not waiting for an outcome
        assert f"{url}/admin/" in _read(tmp_path), "the demo banner should print the panel URL"
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _read(tmp_path: Path) -> str:
    return (tmp_path / "server.log").read_text(errors="replace")


def test_sign_in_as_the_demo_administrator(demo_server: str) -> None:
    require(CHROMIUM.exists(), "Chromium is missing: apt-get install -y chromium")
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(locale="fr-FR", viewport={"width": 1280, "height": 800})
            page.goto(f"{demo_server}/admin/")
            expect(page).to_have_url(f"{demo_server}/admin/login?next=/admin/")
            expect(page.get_by_role("heading", name="Se connecter à Relais")).to_be_visible()
            expect(page.get_by_role("link", name="Se connecter avec Microsoft")).to_be_visible()
            page.screenshot(path=str(SCREENSHOTS / "relais-admin-login.png"), full_page=True)

            page.get_by_role("button", name="Claire Durand").click()

            expect(page).to_have_url(f"{demo_server}/admin/applications")
            expect(page.get_by_role("heading", level=1, name="Applications")).to_be_visible()
            expect(page.locator(".who-name")).to_have_text("Claire Durand")
            expect(page.locator(".who-firm")).to_contain_text("Cabinet Durand & Associés")
            navigation = page.get_by_role("navigation", name="Navigation principale")
            for label in NAV_LABELS["fr"]:
                expect(navigation.get_by_role("link", name=label)).to_be_visible()
            page.screenshot(path=str(SCREENSHOTS / "relais-admin-applications.png"), full_page=True)

            # Navigate, switch to English, sign out: the round trip a person makes.
            navigation.get_by_role("link", name="Tableau de bord").click()
            expect(page.get_by_role("heading", level=1, name="Tableau de bord")).to_be_visible()
            page.get_by_role("button", name="EN").click()
            expect(page.get_by_role("heading", level=1, name="Dashboard")).to_be_visible()
            expect(page.locator("html")).to_have_attribute("lang", "en")
            page.screenshot(path=str(SCREENSHOTS / "relais-admin-dashboard-en.png"), full_page=True)
            page.get_by_role("button", name="Sign out").click()
            expect(page.get_by_text("You are signed out.")).to_be_visible()
            page.goto(f"{demo_server}/admin/portfolio")
            expect(page).to_have_url(f"{demo_server}/admin/login?next=/admin/portfolio")
        finally:
            browser.close()
