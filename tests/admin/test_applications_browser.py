"""The Applications tab in a real browser (Debian's Chromium through Playwright) against
`relais demo`: the add wizard end to end, edit, delete with the masters' emails arriving at a
local SMTP server, and a collaborator's read-only view. Screenshots of each step go to
$RELAIS_SCREENSHOT_DIR (default /tmp)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.admin.browser import SCREENSHOTS, Demo, chromium, run_async, run_demo, sign_in
from tests.fakes.smtp import FakeSmtp

pytestmark = pytest.mark.browser


@pytest.fixture
def demo_with_mail(tmp_path: Path, fake_smtp: FakeSmtp) -> Iterator[Demo]:
    """`relais demo` on a fresh SQLite file, sending its mail to ``fake_smtp``."""
    smtp = {"RELAIS_SMTP_HOST": fake_smtp.host, "RELAIS_SMTP_PORT": str(fake_smtp.port)}
    with run_demo(tmp_path, env=smtp) as demo:
        yield demo


def give_accesses(database_url: str, label: str, how_many: int) -> dict[str, int]:
    """Arrange: the first contacts hold the platform app on their dossier (as the portfolio or
    an accepted Teams offer would leave it). Returns {master email: dossiers affected}."""
    from storage.db import create_engine, session_factory
    from storage.models import (
        CatalogApp,
        ContactAccess,
        ContactDossier,
        Dossier,
        FirmApplication,
        StaffUser,
    )

    async def run() -> dict[str, int]:
        engine = create_engine(database_url)
        sessions = session_factory(engine)
        try:
            async with sessions() as session, session.begin():
                app = await session.scalar(
                    select(FirmApplication)
                    .join(CatalogApp, CatalogApp.id == FirmApplication.catalog_app_id)
                    .where(CatalogApp.label == label)
                )
                assert app is not None
                links = (
                    await session.execute(
                        select(ContactDossier.contact_id, Dossier.id, StaffUser.email)
                        .join(Dossier, Dossier.id == ContactDossier.dossier_id)
                        .join(StaffUser, StaffUser.id == Dossier.master_id)
                        .order_by(ContactDossier.id)
                        .limit(how_many)
                    )
                ).all()
                masters: dict[str, int] = {}
                for contact_id, dossier_id, email in links:
                    session.add(
                        ContactAccess(
                            firm_id=app.firm_id,
                            firm_application_id=app.id,
                            contact_id=contact_id,
                            dossier_id=dossier_id,
                            state="accepted",
                        )
                    )
                    masters[email] = masters.get(email, 0) + 1
                return masters
        finally:
            await engine.dispose()

    return run_async(run())


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"relais-applications-{name}.png"), full_page=True)


def test_add_edit_and_delete_applications_in_the_browser(
    demo_with_mail: Demo, fake_smtp: FakeSmtp
) -> None:
    from playwright.sync_api import expect

    base = demo_with_mail.url
    with chromium() as browser:
        page = browser.new_page(locale="fr-FR", viewport={"width": 1280, "height": 860})
        sign_in(page, "Claire Durand", at=f"{base}/admin/login")
        expect(page.get_by_role("heading", level=1, name="Applications")).to_be_visible()
        expect(page.get_by_text("Rien pour l'instant")).to_be_visible()
        shot(page, "01-list-empty")

        # Step 1: kind, application, its description and fields; Next only when valid.
        page.get_by_role("link", name="Ajouter une application").click()
        expect(page.get_by_role("heading", level=1, name="Ajouter une application")).to_be_visible()
        next_button = page.get_by_role("button", name="Suivant")
        expect(next_button).to_be_disabled()
        page.get_by_label("Partenaire").check()
        page.get_by_role("combobox", name="Application").select_option(label="Gestion juridique")
        expect(page.get_by_text("Approbation des comptes, assemblées et registres")).to_be_visible()
        expect(next_button).to_be_disabled()
        page.get_by_label("Identifiant de la clé d'API").fill("KEY-123")
        page.get_by_label("Secret de la clé d'API").fill("s3cret-never-shown")
        page.get_by_label("URL de l'API").fill("https://api.example.test/v1")
        page.get_by_label("Code SIC").select_option("SIC-75001")
        page.get_by_label("Domaine juridique").fill("ab")
        expect(next_button).to_be_disabled()  # the pattern wants 3 to 40 characters
        page.get_by_label("Domaine juridique").fill("cabinet-durand")
        expect(next_button).to_be_enabled()
        shot(page, "02-definition")
        next_button.click()

        # Step 2: search with 3 letters, page 2, tick the page, apply to all.
        expect(
            page.get_by_role("heading", name="Sélection des dossiers client", level=2)
        ).to_be_visible()
        count = page.locator("#selected-count")
        expect(count).to_have_text("Aucun dossier sélectionné")
        page.get_by_role("searchbox").fill("sas")
        page.get_by_role("button", name="Rechercher").click()
        expect(page.get_by_text("1–50 sur 72")).to_be_visible()
        page.get_by_role("button", name="Page 2", exact=True).click()
        expect(page.get_by_text("51–72 sur 72")).to_be_visible()
        expect(page.locator("input[name=pick]")).to_have_count(22)
        page.get_by_label("Sélectionner tous les dossiers de la page").check()
        expect(count).to_have_text("22 dossiers sélectionnés")
        shot(page, "03-dossiers-page-ticked")
        page.get_by_role("button", name="Appliquer à tous").click()
        expect(count).to_have_text("72 dossiers sélectionnés")
        expect(page.get_by_text("(tous les dossiers correspondant à « sas »)")).to_be_visible()
        shot(page, "04-dossiers-all")
        page.get_by_role("button", name="Suivant").click()

        # Step 3: the summary, then Validate.
        expect(
            page.get_by_text("L'application sera immédiatement associée à 72 dossiers client.")
        ).to_be_visible()
        expect(page.get_by_text("sécurisée par la clé d'API KEY-123")).to_be_visible()
        expect(page.locator(".dossier-list li")).to_have_count(50)
        shot(page, "05-summary")
        page.get_by_role("button", name="Valider").click()

        expect(page).to_have_url(f"{base}/admin/applications")
        expect(
            page.get_by_text(
                "Gestion juridique a été ajoutée au cabinet et associée à 72 dossiers."
            )
        ).to_be_visible()
        row = page.get_by_role("row", name="Gestion juridique")
        expect(row).to_contain_text("KEY-123")
        expect(row).to_contain_text("72 dossiers")
        expect(page.locator("body")).not_to_contain_text("s3cret-never-shown")
        shot(page, "06-list-added")

        # Edit: the secret is said to be stored, never shown; an empty field keeps it.
        page.get_by_role("link", name="Modifier Gestion juridique").click()
        expect(page.get_by_text("Un secret est enregistré.")).to_be_visible()
        expect(page.get_by_label("Secret de la clé d'API")).to_have_value("")
        page.get_by_label("Identifiant de la clé d'API").fill("KEY-456")
        page.get_by_label("Activer par défaut").check()
        shot(page, "07-edit")
        page.get_by_role("button", name="Enregistrer").click()
        expect(
            page.get_by_text(
                "Les paramètres de l'application Gestion juridique ont été enregistrés."
            )
        ).to_be_visible()
        expect(page.get_by_role("row", name="Gestion juridique")).to_contain_text("KEY-456")

        # A platform application: no dossier step, straight to the summary.
        page.get_by_role("link", name="Ajouter Consultation").click()
        expect(page.get_by_text("Accès en lecture seule aux comptes")).to_be_visible()
        page.get_by_role("button", name="Suivant").click()
        expect(page.get_by_text("Sans objet pour cette application")).to_be_visible()
        expect(page.get_by_text("Cette application se propose à un interlocuteur")).to_be_visible()
        shot(page, "08-summary-platform")
        page.get_by_role("button", name="Valider").click()
        expect(page.get_by_text("Consultation a été ajoutée au cabinet.")).to_be_visible()

        # Delete it: the page says beforehand what will happen, then the masters get mail.
        masters = give_accesses(demo_with_mail.database_url, "Consultation", 6)
        page.get_by_role("link", name="Supprimer Consultation").click()
        expect(
            page.get_by_text("6 accès d'interlocuteurs (site collaboratif et application mobile)")
        ).to_be_visible()
        expect(page.get_by_text(f"{len(masters)} maîtres de dossier concernés")).to_be_visible()
        shot(page, "09-delete-confirm")
        page.get_by_role("button", name="Supprimer l'application").click()
        expect(page.get_by_text("Consultation a été supprimée du cabinet.")).to_be_visible()
        expect(page.get_by_text("6 accès d'interlocuteurs ont été révoqués.")).to_be_visible()
        expect(
            page.get_by_text(f"{len(masters)} maîtres de dossier ont été prévenus par e-mail.")
        ).to_be_visible()
        expect(page.get_by_role("row", name="Consultation")).to_have_count(0)
        shot(page, "10-deleted")
        mails = fake_smtp.messages.wait_for(len(masters))
        assert sorted(r for m in mails for r in m.rcpt_tos) == sorted(masters)
        for mail in mails:
            assert "Consultation" in mail.subject
            assert mail.text.count("\n- ") == masters[mail.rcpt_tos[0]]

        # The same wizard in English.
        page.get_by_role("button", name="EN", exact=True).click()
        expect(page.get_by_role("heading", level=1, name="Applications")).to_be_visible()
        page.get_by_role("link", name="Add an application").click()
        page.get_by_label("Partner").check()
        page.get_by_role("combobox", name="Application").select_option(
            label="OCR Factures — Achats"
        )
        expect(page.get_by_text("Recognises purchase invoices")).to_be_visible()
        expect(page.get_by_role("button", name="Next")).to_be_disabled()
        shot(page, "11-definition-en")


def test_a_collaborator_sees_no_add_button(demo_with_mail: Demo) -> None:
    from playwright.sync_api import expect

    with chromium() as browser:
        page = browser.new_page(locale="en-GB", viewport={"width": 1280, "height": 800})
        sign_in(page, "James Walker", at=f"{demo_with_mail.url}/admin/login")
        expect(page.get_by_role("heading", level=1, name="Applications")).to_be_visible()
        expect(
            page.get_by_text("Only the firm's administrators can add, edit or delete")
        ).to_be_visible()
        expect(page.get_by_role("link", name="Add an application")).to_have_count(0)
        expect(page.get_by_role("link", name="Add", exact=True)).to_have_count(0)
        shot(page, "12-collaborator-en")
        response = page.goto(f"{demo_with_mail.url}/admin/applications/new")
        assert response is not None and response.status == 403
        expect(page.get_by_role("heading", name="Access refused")).to_be_visible()
