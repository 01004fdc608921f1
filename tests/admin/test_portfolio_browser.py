"""The portfolio and its applications dialog in Debian's Chromium, against `relais demo`.

The demo firm starts without firm applications (the add wizard creates them), so the database is
prepared first — migrated, seeded as `relais demo` does, plus three firm applications and a
contact whose invitation is pending — and `relais demo` then serves it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from relais.demo import seed
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from storage.models import Contact, ContactDossier, Dossier, StaffUser
from tests.admin.browser import SCREENSHOTS, chromium, database_url, run_demo, sign_in
from tests.hub.test_portfolio import add_firm_applications

pytestmark = pytest.mark.browser

DOSSIER = "BLA011"  # the demo's first dossier, whose contact Julie Bernard is a guest


@dataclass(frozen=True)
class Demo:
    url: str
    not_james: str  # a dossier James Walker neither masters nor manages


async def _prepare(url: str) -> str:
    engine = create_engine(url)
    sessions = session_factory(engine)
    try:
        info = await seed(sessions)
        await add_firm_applications(sessions, info.firm_id, ("start", "coproduction", "ocr-achats"))
        async with sessions() as session, session.begin():
            dossier = await session.scalar(select(Dossier).where(Dossier.code == DOSSIER))
            assert dossier is not None
            pending = Contact(
                firm_id=info.firm_id,
                first_name="Hélène",
                last_name="Attente",
                email="helene.attente@client-bla011.fr",
                guest_state="invited",
            )
            session.add(pending)
            await session.flush()
            session.add(
                ContactDossier(firm_id=info.firm_id, contact_id=pending.id, dossier_id=dossier.id)
            )
            james = await session.scalar(
                select(StaffUser.id).where(StaffUser.display_name == "James Walker")
            )
            code = await session.scalar(
                select(Dossier.code)
                .where(Dossier.master_id != james, Dossier.engagement_manager_id != james)
                .order_by(Dossier.code)
            )
            assert code is not None
            return code
    finally:
        await engine.dispose()


@pytest.fixture
def demo_with_apps(tmp_path: Path) -> Iterator[Demo]:
    database = database_url(tmp_path)
    upgrade(database)
    not_james = asyncio.run(_prepare(database))
    with run_demo(tmp_path) as demo:
        yield Demo(demo.url, not_james)


def test_portfolio_dialog_switches_on_an_application_for_a_contact(demo_with_apps: Demo) -> None:
    from playwright.sync_api import expect

    base = demo_with_apps.url
    with chromium() as browser:
        page = browser.new_page(locale="fr-FR", viewport={"width": 1280, "height": 860})
        sign_in(page, "Claire Durand", at=f"{base}/admin/login?next=/admin/portfolio")
        expect(page.get_by_role("heading", level=1, name="Portefeuille")).to_be_visible()

        page.get_by_role("link", name="Tous les dossiers du cabinet").click()
        expect(
            page.get_by_text("201 dossiers").or_(page.get_by_text("200 dossiers"))
        ).to_be_visible()
        search = page.get_by_role("searchbox", name="Rechercher un dossier")
        search.fill("bl")
        page.get_by_role("button", name="Rechercher").click()
        expect(page.get_by_role("alert")).to_have_text(
            "Saisissez au moins 3 caractères pour lancer la recherche."
        )
        search = page.get_by_role("searchbox", name="Rechercher un dossier")
        search.fill("Fleuriste Blanc")
        page.get_by_role("button", name="Rechercher").click()
        row = page.locator(f'tr[data-code="{DOSSIER}"]')
        expect(row).to_contain_text("Fleuriste Blanc du Marais SASU")
        expect(row).to_contain_text("Opérationnel")
        expect(row).to_contain_text("Aucune")
        page.screenshot(path=str(SCREENSHOTS / "relais-portfolio.png"), full_page=True)

        row.get_by_role("link", name=f"Applications du dossier {DOSSIER}").click()
        dialog = page.get_by_role("dialog")
        expect(dialog).to_be_visible()
        expect(dialog.get_by_role("heading", level=1)).to_contain_text(DOSSIER)
        start = dialog.locator("li.app-item").filter(
            has=page.get_by_role("switch", name="Start", exact=True)
        )
        expect(start.get_by_role("switch")).not_to_be_checked()
        # A greyed contact: the reason is shown and the box cannot be ticked.
        pending = start.get_by_role("checkbox", name=re.compile("Hélène Attente"))
        expect(pending).to_be_disabled()
        expect(start.locator(".contact-choice.is-greyed")).to_contain_text(
            "invitation pas encore acceptée"
        )
        # Ticking the guest under an application that is off switches it on.
        start.get_by_role("checkbox", name=re.compile("Julie Bernard")).check()
        expect(start.get_by_role("switch")).to_be_checked()
        dialog.get_by_role("switch", name="OCR Factures — Achats").check()
        page.screenshot(path=str(SCREENSHOTS / "relais-portfolio-dialog.png"))
        dialog.get_by_role("button", name="Valider").click()

        # The offer to Julie Bernard is recorded, as from Teams; nobody of the demo firm has opened
        # Relais in Teams, so it waits, and the page says why.
        status = page.get_by_role("status").filter(has_text="enregistrées")
        expect(status).to_contain_text(f"Les applications du dossier {DOSSIER} sont enregistrées.")
        expect(status).to_contain_text("Offres restées en attente")
        expect(status).to_contain_text("Start à Julie Bernard")
        expect(status).to_contain_text("ouvrez Relais une fois dans Teams")
        # The OCR is on; Start will be once Julie accepts.
        expect(page.locator(f'tr[data-code="{DOSSIER}"]')).to_contain_text("1 application")
        page.screenshot(path=str(SCREENSHOTS / "relais-portfolio-saved.png"), full_page=True)

        # Opened again, the choices are there.
        page.locator(f'tr[data-code="{DOSSIER}"]').get_by_role("link").click()
        start = (
            page.get_by_role("dialog")
            .locator("li.app-item")
            .filter(has=page.get_by_role("switch", name="Start", exact=True))
        )
        expect(start.get_by_role("switch")).to_be_checked()
        expect(start.get_by_role("checkbox", name=re.compile("Julie Bernard"))).to_be_checked()
        expect(start.locator(".contact-offer.is-pending")).to_contain_text(
            "offre en attente, pas encore reçue dans Teams"
        )
        page.get_by_role("dialog").get_by_role("link", name="Annuler").click()
        expect(page.get_by_role("dialog")).to_be_hidden()

        # A collaborator on a dossier that is not theirs: read only, in English.
        page.get_by_role("button", name="Se déconnecter").click()
        sign_in(page, "James Walker", at=f"{base}/admin/login?next=/admin/dossiers")
        expect(page.get_by_role("heading", level=1, name="Dossiers")).to_be_visible()
        # The session kept Claire's French.
        page.get_by_role("button", name="EN", exact=True).click()
        expect(page.locator("html")).to_have_attribute("lang", "en")
        page.get_by_role("searchbox", name="Search dossiers").fill(demo_with_apps.not_james)
        page.get_by_role("button", name="Search").click()
        page.get_by_role(
            "link", name=f"Propose a service for dossier {demo_with_apps.not_james}"
        ).click()
        dialog = page.get_by_role("dialog")
        expect(dialog.get_by_text("Read only")).to_be_visible()
        for switch in dialog.get_by_role("switch").all():
            expect(switch).to_be_disabled()
        expect(dialog.get_by_role("button", name="Save")).to_have_count(0)
        page.screenshot(path=str(SCREENSHOTS / "relais-portfolio-readonly-en.png"))
