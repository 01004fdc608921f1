"""The dashboard in a real browser (Debian's Chromium through Playwright) against `relais demo`,
its database seeded first with failed deliveries: filter, retry one failure and see it pending,
download the CSV, and read the page in English. Screenshots go to $RELAIS_SCREENSHOT_DIR
(default /tmp)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from tests.admin.browser import SCREENSHOTS, arrange_demo, chromium, database_url, run_demo, sign_in

pytestmark = pytest.mark.browser

REASONS = ["dossier_unknown", "too_large", "format_refused", "credentials_refused", "gave_up"]


@dataclass
class Seeded:
    url: str
    database_url: str
    unknown_code: int  # how many failures are "dossier_unknown"


def seed_failures(database_url: str, data_dir: Path) -> int:
    """The demo firm, an OCR application (at an address nobody answers, so a retried send stays
    pending) connected to ten dossiers, and 25 documents whose sends failed, for every reason,
    over the last days. Returns how many failed with "dossier_unknown"."""
    from datetime import UTC, datetime, timedelta

    from hub.documents import receive_document
    from hub.identity import Actor
    from hub.services import Hub
    from relais.demo import DemoInfo
    from storage.models import Delivery, DeliveryAttempt, Dossier
    from tests.connectors.arrange import add_app, connect, pdf

    async def arrange(hub: Hub, info: DemoInfo, admin: Actor) -> int:
        sessions = hub.sessions
        app = await add_app(hub, info.firm_id, "ocr-achats", api_url="https://127.0.0.1:9/")
        async with sessions() as session:
            codes = list(
                await session.scalars(
                    select(Dossier.code)
                    .where(Dossier.status == "active")
                    .order_by(Dossier.code)
                    .limit(10)
                )
            )
        for code in codes:
            await connect(sessions, info.firm_id, app, code, ["Achats"], code_at_app=code)
        unknown = 0
        now = datetime.now(UTC)
        for i in range(25):
            receipt = await receive_document(
                hub,
                admin,
                codes[i % len(codes)],
                "Achats/2025",
                f"facture-{410 + i:04d}.pdf",
                pdf(f"browser {i}"),
                "panel",
            )
            reason = REASONS[i % len(REASONS)]
            unknown += reason == "dossier_unknown"
            at = now - timedelta(days=i % 9, hours=i)
            async with sessions() as session, session.begin():
                delivery = await session.scalar(
                    select(Delivery).where(Delivery.document_version_id == receipt.version_id)
                )
                assert delivery is not None
                await session.execute(
                    update(Delivery)
                    .where(Delivery.id == delivery.id)
                    .values(status="failed", failure_reason=reason, attempts=1, created_at=at)
                )
                session.add(
                    DeliveryAttempt(
                        firm_id=info.firm_id,
                        delivery_id=delivery.id,
                        at=at + timedelta(seconds=3),
                        outcome="refused",
                        detail=f"{reason}: the application said no",
                    )
                )
        return unknown

    return arrange_demo(database_url, data_dir, arrange)


@pytest.fixture
def seeded_demo(tmp_path: Path) -> Iterator[Seeded]:
    unknown = seed_failures(database_url(tmp_path), tmp_path)
    with run_demo(tmp_path) as demo:
        yield Seeded(demo.url, demo.database_url, unknown)


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"relais-dashboard-{name}.png"), full_page=True)


def test_filter_retry_and_export_failures_in_the_browser(seeded_demo: Seeded) -> None:
    from playwright.sync_api import expect

    with chromium() as browser:
        context = browser.new_context(
            locale="fr-FR", viewport={"width": 1280, "height": 900}, accept_downloads=True
        )
        page = context.new_page()
        sign_in(page, "Claire Durand", at=f"{seeded_demo.url}/admin/login")
        page.get_by_role("link", name="Tableau de bord").click()
        expect(page.get_by_role("heading", level=1, name="Tableau de bord")).to_be_visible()
        expect(page.locator("#failure-total")).to_have_text("25")
        expect(page.get_by_role("img", name="Échecs par jour, 30 derniers jours")).to_be_visible()
        rows = page.locator(".failure-table tbody tr")
        expect(rows).to_have_count(25)
        shot(page, "01-failures-fr")

        # Filter: one reason.
        page.get_by_label("Motif").select_option(label="Code dossier inconnu")
        page.get_by_role("button", name="Filtrer").click()
        expect(rows).to_have_count(seeded_demo.unknown_code)
        expect(page.locator("#failure-total")).to_have_text(str(seeded_demo.unknown_code))
        expect(page.get_by_text("vérifiez le code dans la connexion").first).to_be_visible()
        shot(page, "02-filtered")

        # Retry the first one: it leaves the list and waits in the queue.
        first = rows.first
        name = first.locator(".doc-name").inner_text()
        first.get_by_role("checkbox").check()
        page.get_by_role("button", name="Renvoyer la sélection").click()
        expect(page.get_by_role("status")).to_contain_text("1 envoi(s) remis en file")
        expect(rows).to_have_count(seeded_demo.unknown_code - 1)
        expect(page.locator(".failure-table")).not_to_contain_text(name)
        shot(page, "03-retried")

        page.get_by_role("link", name="Activité").click()
        expect(page.get_by_text("En attente d'envoi")).to_be_visible()
        # The retried send went to the demo's partner stand-in, which takes it: the queue empties.
        expect(page.locator("#pending")).to_have_text("0", timeout=15_000)
        shot(page, "04-activity-fr")

        # The CSV of what the filters match.
        page.get_by_role("link", name="Envois en échec").click()
        page.get_by_label("Motif").select_option(label="Fichier trop volumineux")
        page.get_by_role("button", name="Filtrer").click()
        with page.expect_download() as info:
            page.get_by_role("link", name="Exporter en CSV").click()
        data = Path(info.value.path()).read_bytes()
        assert data.startswith(b"\xef\xbb\xbf")
        lines = data[3:].decode("utf-8").strip().splitlines()
        assert lines[0].startswith("Mis en file le;Échec le;Code dossier")
        assert len(lines) == 1 + 5 and all("Fichier trop volumineux" in x for x in lines[1:])

        # The same page in English.
        page.get_by_role("button", name="EN", exact=True).click()
        expect(page.get_by_role("heading", level=1, name="Dashboard")).to_be_visible()
        expect(page.locator(".failure-table .reason").first).to_have_text("File too large")
        shot(page, "05-failures-en")
        page.get_by_role("link", name="Activity").click()
        expect(page.get_by_text("Median upload → delivery")).to_be_visible()
        shot(page, "06-activity-en")
