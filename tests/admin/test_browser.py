"""The panel in a real browser: Debian's Chromium, driven by Playwright, against `relais demo`
started exactly as the README says."""

from __future__ import annotations

import pytest

from tests.admin.browser import SCREENSHOTS, chromium, sign_in
from tests.admin.conftest import NAV_LABELS

pytestmark = pytest.mark.browser


def test_sign_in_as_the_demo_administrator(demo_server: str) -> None:
    from playwright.sync_api import expect

    with chromium() as browser:
        page = browser.new_page(locale="fr-FR", viewport={"width": 1280, "height": 800})
        page.goto(f"{demo_server}/admin/")
        expect(page).to_have_url(f"{demo_server}/admin/login?next=/admin/")
        expect(page.get_by_role("heading", name="Se connecter à Relais")).to_be_visible()
        expect(page.get_by_role("link", name="Se connecter avec Microsoft")).to_be_visible()
        page.screenshot(path=str(SCREENSHOTS / "relais-admin-login.png"), full_page=True)

        sign_in(page, "Claire Durand")

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
        page.get_by_role("button", name="EN", exact=True).click()
        expect(page.get_by_role("heading", level=1, name="Dashboard")).to_be_visible()
        expect(page.locator("html")).to_have_attribute("lang", "en")
        page.screenshot(path=str(SCREENSHOTS / "relais-admin-dashboard-en.png"), full_page=True)
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_text("You are signed out.")).to_be_visible()
        page.goto(f"{demo_server}/admin/portfolio")
        expect(page).to_have_url(f"{demo_server}/admin/login?next=/admin/portfolio")
