"""`relais demo` as a person trying Relais starts it, month of activity included, in Debian's
Chromium: the banner suggests what to ask the bot, the failed-sends dashboard fits the screen, and a
document's History tells the worker gave up. Screenshots go to $RELAIS_SCREENSHOT_DIR (default
/tmp)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.admin.browser import SCREENSHOTS, chromium, run_demo, server_log, sign_in

pytestmark = pytest.mark.browser


def test_the_demo_shows_a_month_of_documents(tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with run_demo(tmp_path, activity=True) as demo, chromium() as browser:
        banner = server_log(tmp_path)
        assert '"historique facture", "échecs" or "statut BLA011"' in banner

        page = browser.new_page(
            locale="fr-FR", viewport={"width": 1280, "height": 900}, reduced_motion="reduce"
        )
        sign_in(page, "Claire Durand", at=f"{demo.url}/admin/dashboard")
        expect(page.get_by_role("heading", level=1, name="Tableau de bord")).to_be_visible()
        rows = page.locator("table.failure-table tbody tr")
        expect(rows).to_have_count(13)
        # Every column, the failure's date last, without scrolling sideways.
        widths = page.evaluate(
            "() => { const t = document.querySelector('table.failure-table');"
            " return [t.scrollWidth, t.parentElement.clientWidth]; }"
        )
        assert widths[0] <= widths[1]
        last = page.get_by_role("columnheader", name="Échec le").bounding_box()
        assert last is not None and last["x"] + last["width"] <= 1280
        page.screenshot(path=str(SCREENSHOTS / "demo-dashboard.png"), full_page=True)

        page.get_by_role("link", name="Activité").click()
        expect(page.locator(".chart")).not_to_have_count(0)

        page.goto(f"{demo.url}/admin/dossiers/CHE012/documents?folder=Achats/2026")
        page.get_by_role("link", name="releve-bancaire-2026-09.pdf").click()
        drawer = page.get_by_role("dialog", name="Historique releve-bancaire-2026-09.pdf")
        expect(drawer).to_be_visible()
        attempts = drawer.locator(".hist-attempt")
        expect(attempts).to_have_count(8)
        # The fault that ended the send is not followed by "another try is planned".
        expect(attempts.last).to_contain_text("incident, Relais a cessé d'essayer")
        expect(attempts.first).to_contain_text("incident, nouvel essai prévu")
        page.screenshot(path=str(SCREENSHOTS / "demo-drawer.png"))
