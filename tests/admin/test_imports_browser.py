"""Imports and the Team page in a real browser (Debian's Chromium through Playwright), against
`relais demo` started as the README says: the demo administrator downloads the dossier template,
uploads a file with two bad lines and reads them, uploads a good file and reads the counts, and
changes Marc Lefèvre's rights-manager flag."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.admin.browser import SCREENSHOTS, chromium, sign_in

pytestmark = pytest.mark.browser

DOMAIN = "durand-associes.fr"


def test_dossier_import_and_rights_manager_flag(demo_server: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with chromium() as browser:
        context = browser.new_context(
            locale="fr-FR", viewport={"width": 1280, "height": 860}, accept_downloads=True
        )
        page = context.new_page()
        sign_in(page, "Claire Durand", at=f"{demo_server}/admin/")
        navigation = page.get_by_role("navigation", name="Navigation principale")
        navigation.get_by_role("link", name="Équipe").click()
        expect(page.get_by_role("heading", level=1, name="Équipe")).to_be_visible()

        # --- the rights-managers flag of Marc Lefèvre, off then on again
        marc = page.get_by_role("row").filter(has_text="Marc Lefèvre")
        expect(marc.get_by_label("Gestionnaire des droits : Marc Lefèvre")).to_be_checked()
        marc.get_by_label("Gestionnaire des droits : Marc Lefèvre").uncheck()
        marc.get_by_role("button", name="Enregistrer — Marc Lefèvre").click()
        expect(page.get_by_role("status")).to_have_text(
            "Modifications enregistrées pour Marc Lefèvre."
        )
        marc = page.get_by_role("row").filter(has_text="Marc Lefèvre")
        expect(marc.get_by_label("Gestionnaire des droits : Marc Lefèvre")).not_to_be_checked()
        page.screenshot(path=str(SCREENSHOTS / "relais-team.png"), full_page=True)
        marc.get_by_label("Gestionnaire des droits : Marc Lefèvre").check()
        marc.get_by_role("button", name="Enregistrer — Marc Lefèvre").click()
        marc = page.get_by_role("row").filter(has_text="Marc Lefèvre")
        expect(marc.get_by_label("Gestionnaire des droits : Marc Lefèvre")).to_be_checked()

        # --- the dossier import: template, a file with two bad lines, then a good one
        page.get_by_role("link", name="Tous les imports").click()
        expect(page.get_by_role("heading", level=1, name="Imports")).to_be_visible()
        page.screenshot(path=str(SCREENSHOTS / "relais-imports.png"), full_page=True)
        page.get_by_role("link", name="Importer des dossiers clients").click()
        expect(
            page.get_by_role("heading", level=1, name="Importer des dossiers clients")
        ).to_be_visible()
        with page.expect_download() as download_info:
            page.get_by_role("link", name="Télécharger le modèle CSV").click()
        download = download_info.value
        assert download.suggested_filename == "relais-dossiers.csv"
        saved = tmp_path / download.suggested_filename
        download.save_as(saved)
        template = saved.read_bytes()
        text = template.decode("utf-8-sig")
        assert text.splitlines()[-1] == "code;name;status;master_email;engagement_manager_email"
        header_line = len(text.splitlines())

        bad = (
            template
            + (
                f"WEB001;Boulangerie du Web;active;claire.durand@{DOMAIN};marc.lefevre@{DOMAIN}\r\n"
                "WEB002;Statut inconnu;fermé;;\r\n"
                "WEB003;Garage du Web;inactif;;\r\n"
                "WEB004;Maître inconnu;active;personne@ailleurs.fr;\r\n"
            ).encode()
        )
        page.get_by_label("Fichier CSV").set_input_files(
            {"name": "dossiers.csv", "mimeType": "text/csv", "buffer": bad}
        )
        page.get_by_role("button", name="Vérifier et importer").click()
        alert = page.get_by_role("alert")
        expect(alert.get_by_role("heading")).to_have_text("Fichier refusé : rien n'a été modifié")
        expect(alert).to_contain_text("2 ligne(s) de dossiers.csv posent problème")
        rows = alert.get_by_role("row")
        expect(rows).to_have_count(3)
        expect(rows.nth(1)).to_have_text(
            f"{header_line + 2}statut inconnu : « fermé » (active, inactive ou archived)"
        )
        expect(rows.nth(2)).to_have_text(
            f"{header_line + 4}personne@ailleurs.fr (master_email) n'est pas un "
            "collaborateur actif du cabinet"
        )
        page.screenshot(path=str(SCREENSHOTS / "relais-import-rejected.png"), full_page=True)

        good = (
            template
            + (
                f"WEB001;Boulangerie du Web;active;claire.durand@{DOMAIN};marc.lefevre@{DOMAIN}\r\n"
                "WEB003;Garage du Web;inactif;;\r\n"
            ).encode()
        )
        page.get_by_label("Fichier CSV").set_input_files(
            {"name": "dossiers.csv", "mimeType": "text/csv", "buffer": good}
        )
        page.get_by_role("button", name="Vérifier et importer").click()
        status = page.get_by_role("status")
        expect(status).to_contain_text("Import terminé : 2 créé(s), 0 mis à jour, 0 inchangé(s).")
        page.screenshot(path=str(SCREENSHOTS / "relais-import-done.png"), full_page=True)

        # --- the audit trail tells the story, in English too
        page.get_by_role("button", name="EN", exact=True).click()
        expect(page.get_by_role("heading", level=1, name="Import client dossiers")).to_be_visible()
        page.screenshot(path=str(SCREENSHOTS / "relais-import-en.png"), full_page=True)
        navigation = page.get_by_role("navigation", name="Main navigation")
        navigation.get_by_role("link", name="Audit").click()
        expect(
            page.get_by_role("cell", name="Imported dossiers: 2 created, 0 updated, 0 unchanged")
        ).to_be_visible()
        expect(
            page.get_by_role("cell", name="Changed Marc Lefèvre: removed from the rights managers")
        ).to_be_visible()
        page.get_by_label("Action").select_option(label="Dossiers import")
        page.get_by_role("button", name="Filter").click()
        expect(page.locator(".audit-table tbody tr")).to_have_count(1)
        page.screenshot(path=str(SCREENSHOTS / "relais-audit-en.png"), full_page=True)
        navigation.get_by_role("link", name="Team").click()
        page.screenshot(path=str(SCREENSHOTS / "relais-team-en.png"), full_page=True)
