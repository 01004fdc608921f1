"""A dossier's documents in Debian's Chromium, against `relais demo`: from the dossier list to
the folder view, two files uploaded at once into a folder, each reported and then listed; and an
API token created, copied from the page and revoked."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.admin.browser import SCREENSHOTS, chromium, sign_in

pytestmark = pytest.mark.browser

DOSSIER = "BLA011"  # the demo's first dossier


def test_upload_two_files_to_a_dossier_folder_and_see_them_listed(
    demo_server: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    invoice = tmp_path / "facture-0412.pdf"
    invoice.write_bytes(b"%PDF-1.7\n% facture 0412\n%%EOF\n")
    statement = tmp_path / "relevé-mars.txt"
    statement.write_text("Relevé de compte, mars 2026\n", encoding="utf-8")

    with chromium() as browser:
        page = browser.new_page(locale="fr-FR", viewport={"width": 1280, "height": 860})
        sign_in(page, "Claire Durand", at=f"{demo_server}/admin/dossiers")
        expect(page.get_by_role("heading", level=1, name="Dossiers")).to_be_visible()

        page.get_by_role("link", name=f"Documents du dossier {DOSSIER}").click()
        expect(page).to_have_url(f"{demo_server}/admin/dossiers/{DOSSIER}/documents")
        expect(page.get_by_role("heading", level=1, name="Documents")).to_be_visible()
        tree = page.get_by_role("navigation", name="Répertoires")
        expect(tree.get_by_role("link", name="Achats")).to_have_attribute("aria-current", "page")
        expect(page.get_by_text("Aucun document dans ce répertoire")).to_be_visible()

        # Into Achats/2025: the second "2025" of the tree is Ventes', so pick it by address.
        tree.locator('a[href$="folder=Achats%2F2025"]').click()
        expect(page.get_by_role("heading", level=2, name="Achats / 2025")).to_be_visible()
        page.locator("#doc-files").set_input_files([str(invoice), str(statement)])
        expect(page.locator(".doc-chosen")).to_have_text("facture-0412.pdf, relevé-mars.txt")
        page.screenshot(path=str(SCREENSHOTS / "relais-documents-chosen.png"), full_page=True)
        page.get_by_role("button", name="Déposer").click()

        results = page.locator(".doc-result")
        expect(results).to_have_count(2)
        expect(results.nth(0)).to_contain_text("facture-0412.pdf")
        expect(results.nth(0)).to_contain_text("enregistré en version 1")
        expect(results.nth(1)).to_contain_text("relevé-mars.txt")
        rows = page.locator(".doc-table tbody tr")
        expect(rows).to_have_count(2)
        expect(rows.nth(0)).to_contain_text("facture-0412.pdf")
        expect(rows.nth(0)).to_contain_text("v1")
        expect(rows.nth(0)).to_contain_text("Claire Durand")
        expect(rows.nth(1)).to_contain_text("relevé-mars.txt")
        expect(page.locator(".doc-count")).to_have_text("2 documents")
        expect(tree.locator('a[href$="folder=Achats%2F2025"]')).to_contain_text("2")
        page.screenshot(path=str(SCREENSHOTS / "relais-documents.png"), full_page=True)

        # The same list in English, after a reload.
        page.get_by_role("button", name="EN", exact=True).click()
        expect(page.get_by_role("heading", level=2, name="Achats / 2025")).to_be_visible()
        expect(page.locator(".doc-count")).to_have_text("2 documents")
        expect(page.get_by_text("admin panel").first).to_be_visible()

        # API tokens: create, shown once with a copy button, then revoke.
        page.get_by_role("link", name="API tokens").click()
        expect(page.get_by_role("heading", level=1, name="API tokens")).to_be_visible()
        page.get_by_label("Label").fill("Front-desk scanner")
        page.get_by_role("button", name="Create the token").click()
        expect(page.get_by_text("Token “Front-desk scanner” created")).to_be_visible()
        secret = page.locator("#tok-secret")
        expect(secret).to_have_value(_starts_with_rls())
        expect(page.get_by_role("button", name="Copy")).to_be_visible()
        page.screenshot(path=str(SCREENSHOTS / "relais-tokens.png"), full_page=True)
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Revoke the token Front-desk scanner").click()
        expect(page.get_by_text("The token “Front-desk scanner” is revoked")).to_be_visible()
        expect(page.locator("tr.is-revoked")).to_contain_text("Revoked")


def _starts_with_rls() -> object:
    import re

    return re.compile(r"^rls_[A-Za-z0-9_-]{40,}$")
