"""The connect wizard in a real browser (Debian's Chromium through Playwright) against
`relais demo`: Claire Durand connects an OCR application to the Achats folder by importing a CSV
(a refused file first, then the fixed one) and one more dossier by search, sees them listed, and
connects a collection-email application with a generated address she copies. Screenshots of
each step go to $RELAIS_SCREENSHOT_DIR (default /tmp)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from hub import applications as apps
from hub.applications import Definition
from relais.demo import DEMO_STAFF, DEMO_TENANT_ID, company_names
from tests.admin.browser import SCREENSHOTS, chromium, database_url, run_async, sign_in

pytestmark = pytest.mark.browser

OCR = Definition(
    app="ocr-achats",
    api_key_id="KEY-OCR",
    secret="s3cret",
    api_url="https://ocr.example.test/v1",
    sic_code="SIC-75001",
)
CODES = sorted(code for code, _ in company_names(200))


def seed_applications(database_url: str) -> dict[str, int]:
    """Arrange: the firm holds the OCR (API) and the expense-receipts (collection email) apps,
    as the Applications tab's wizard leaves them (tested in test_applications_browser.py)."""
    from hub.identity import resolve
    from hub.settings import Settings
    from relais.services import build_services
    from storage.db import create_engine, session_factory

    async def run() -> dict[str, int]:
        engine = create_engine(database_url)
        sessions = session_factory(engine)
        try:
            settings = Settings(_env_file=None, database_url=database_url, demo=True)  # type: ignore[call-arg]
            hub = build_services(settings, sessions)
            claire = await resolve(sessions, DEMO_TENANT_ID, DEMO_STAFF[0][0])
            ocr = await apps.add_application(hub, claire, OCR)
            mail = await apps.add_application(
                hub, claire, Definition(app="collecte-notes-de-frais")
            )
            return {"ocr": ocr.id, "mail": mail.id}
        finally:
            await engine.dispose()

    return run_async(run())


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"relais-connections-{name}.png"), full_page=True)


def test_connect_dossiers_by_file_and_by_search_in_the_browser(
    demo_server: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    base = demo_server
    ids = seed_applications(database_url(tmp_path))
    c1, c2, c3, c4, c5 = CODES[:5]
    bad = tmp_path / "connexions-erreurs.csv"
    bad.write_text(
        f"dossier_code;code_at_application\n{c1};OCR-{c1}\nINCONNU42;OCR-X\n{c2};\n{c3};OCR-{c3}\n",
        encoding="utf-8",
    )
    good = tmp_path / "connexions.csv"
    good.write_text(
        f"\ufeffdossier_code;code_at_application\n{c1};OCR-{c1}\n{c2};OCR-{c2}\n{c3};OCR-{c3}\n",
        encoding="utf-8",
    )
    with chromium() as browser:
        context = browser.new_context(
            locale="fr-FR",
            viewport={"width": 1280, "height": 900},
            permissions=["clipboard-read", "clipboard-write"],
        )
        page = context.new_page()
        sign_in(page, "Claire Durand", at=f"{base}/admin/login")
        expect(page.get_by_role("heading", level=1, name="Applications")).to_be_visible()

        # The folder tree, linked from the Applications tab.
        page.get_by_role("link", name="Arborescence des répertoires").click()
        expect(
            page.get_by_role("heading", level=1, name="Arborescence des répertoires")
        ).to_be_visible()
        expect(page.locator("#folder-1")).to_contain_text("Achats")
        shot(page, "01-folders")
        page.go_back()

        # Step 1: the OCR for purchases suggests Achats, sub-folders included.
        page.get_by_role("link", name="Connecter des dossiers à OCR Factures — Achats").click()
        expect(
            page.get_by_role("heading", name="Sélection du répertoire à connecter")
        ).to_be_visible()
        expect(page.get_by_text("le répertoire Achats est proposé")).to_be_visible()
        achats = page.get_by_role("radio", name="Achats Suggéré")
        expect(achats).to_be_checked()
        expect(page.get_by_text("Par API · code dossier")).to_be_visible()
        expect(page.locator(".connect-app .variant")).to_have_text("Achats")
        shot(page, "02-folder")
        page.get_by_role("button", name="Suivant").click()

        # Step 2 (a): a file with a bad line is refused whole, every line with its reason.
        expect(page.get_by_role("heading", name="Importer un fichier")).to_be_visible()
        expect(page.locator(".connect-app")).to_contain_text("sous-répertoires inclus")
        page.locator("#import-file").set_input_files(str(bad))
        page.get_by_role("button", name="Vérifier et importer").click()
        refused = page.get_by_role("alert").filter(has_text="Fichier refusé")
        expect(refused).to_contain_text("rien n'a été enregistré")
        expect(refused).to_contain_text("Dossier inconnu : INCONNU42.")
        expect(refused).to_contain_text(f"Code dans l'application manquant pour le dossier {c2}.")
        expect(page.get_by_role("link", name="Connectés")).to_contain_text("0")
        shot(page, "03-import-refused")

        page.locator("#import-file").set_input_files(str(good))
        page.get_by_role("button", name="Vérifier et importer").click()
        done = page.get_by_role("status").filter(has_text="Fichier importé")
        expect(done).to_contain_text("3 dossier(s) connecté(s)")
        for code in (c1, c2, c3):
            expect(done).to_contain_text(f"connecté au répertoire Achats avec le code OCR-{code}")
        shot(page, "04-import-done")

        # Step 2 (b): one more dossier by search, its code typed (the box ticks itself).
        page.get_by_role("searchbox").fill(c4)
        page.get_by_role("button", name="Rechercher").click()
        row = page.locator("tbody tr").filter(has_text=c4)
        expect(row).to_contain_text("Non connecté")
        row.get_by_label(f"Code de {c4} dans l'application").fill(f"OCR-{c4}")
        expect(row.get_by_label(f"Autoriser l'accès pour {c4}")).to_be_checked()
        shot(page, "05-one-by-one")
        page.get_by_role("button", name="Enregistrer", exact=True).last.click()
        saved = page.get_by_role("status").filter(has_text="Enregistré")
        expect(saved).to_contain_text(f"{c4}")
        expect(saved).to_contain_text(f"connecté au répertoire Achats avec le code OCR-{c4}")

        page.get_by_role("link", name="Effacer la recherche").click()
        page.get_by_role("link", name="Connectés").click()
        rows = page.locator(".connect-table tbody tr")
        expect(rows).to_have_count(4)
        for code in (c1, c2, c3, c4):
            expect(rows.filter(has_text=code)).to_contain_text("Connecté")
        expect(rows.first.locator(".folder-tags")).to_contain_text("Achats")
        shot(page, "06-connected")

        # A collection-email application, connected with an address Relais generates.
        page.goto(f"{base}/admin/applications")
        page.get_by_role("link", name="Connecter des dossiers à Notes de frais par e-mail").click()
        page.get_by_role("radio", name="Notes de frais", exact=True).check()
        page.get_by_role("button", name="Suivant").click()
        page.get_by_role("searchbox").fill(c5)
        page.get_by_role("button", name="Rechercher").click()
        row = page.locator("tbody tr").filter(has_text=c5)
        row.get_by_text("Générer une adresse").click()
        expect(row.get_by_label(f"Adresse e-mail de collecte de {c5}")).to_be_disabled()
        expect(row.get_by_label(f"Autoriser l'accès pour {c5}")).to_be_checked()
        page.get_by_role("button", name="Enregistrer", exact=True).last.click()
        saved = page.get_by_role("status").filter(has_text="Enregistré")
        expect(saved).to_contain_text("adresse de collecte générée")
        address = saved.locator("code.address")
        expect(address).to_have_text(
            re.compile(rf"^{c5.lower()}\.[a-z2-9]{{6}}@collecte\.localhost$")
        )
        copy = saved.get_by_role("button", name=f"Copier {address.inner_text()}")
        copy.click()
        expect(copy).to_contain_text("Copié")
        assert page.evaluate("navigator.clipboard.readText()") == address.inner_text()
        shot(page, "07-generated")

        # The same page in English.
        page.get_by_role("button", name="EN", exact=True).click()
        expect(page.get_by_role("heading", level=1, name="Connect dossiers")).to_be_visible()
        expect(
            page.get_by_role("heading", name=re.compile("Connect dossiers one by one"))
        ).to_be_visible()
        shot(page, "08-english")
        page.goto(f"{base}/admin/applications/{ids['ocr']}/connect")
        expect(page.get_by_text("the Achats folder is suggested")).to_be_visible()
        shot(page, "09-folder-english")
