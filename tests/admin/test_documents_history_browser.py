"""A document's History drawer in Debian's Chromium, against `relais demo` whose database is
seeded first with a document of two versions and sends that went through, failed and wait: open
it from the folder view, read the versions and sends, retry a failed one and see it pending, close
it with Esc and find the focus back on the document's name; Back closes it, a link with
#history-<id> opens it. Screenshots at desktop width and at 400px go to $RELAIS_SCREENSHOT_DIR
(default /tmp)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from tests.admin.browser import SCREENSHOTS, arrange_demo, chromium, database_url, run_demo, sign_in

pytestmark = pytest.mark.browser

DOSSIER = "BLA011"  # the demo's first dossier
NAME = "facture-0412-fournisseur-electricite-et-gaz-janvier-2026-avec-un-nom-tres-long.pdf"


@dataclass
class Seeded:
    url: str
    document: int
    failed: int  # version 1 → OCR, failed: dossier code unknown
    not_james: str  # a dossier outside James Walker's portfolio


def seed_history(database_url: str, data_dir: Path) -> tuple[int, int, str]:
    """The demo firm, an OCR application (at an address nobody answers, so a retried send stays
    pending) and a legal one, both connected to BLA011's Achats; a document with two versions:
    v1 OCR failed after one refusal, v1 legal sent (reference LEX-2026-118), v2 OCR waiting
    after a fault, v2 legal sent after a fault. Returns the document's id, the failed send's, and
    the code of a dossier outside James Walker's portfolio."""
    from datetime import UTC, datetime, timedelta

    from hub.documents import receive_document
    from hub.identity import Actor, resolve
    from hub.services import Hub
    from relais.demo import DemoInfo
    from storage.models import Delivery, DeliveryAttempt, Dossier
    from tests.connectors.arrange import add_app, connect, pdf

    async def arrange(hub: Hub, info: DemoInfo, admin: Actor) -> tuple[int, int, str]:
        sessions = hub.sessions
        ocr = await add_app(hub, info.firm_id, "ocr-achats", api_url="https://127.0.0.1:9/")
        legal = await add_app(hub, info.firm_id, "juridique", api_url="https://127.0.0.1:9/")
        for app in (ocr, legal):
            await connect(sessions, info.firm_id, app, DOSSIER, ["Achats"], code_at_app="X1")
        now = datetime.now(UTC).replace(microsecond=0)
        later = now + timedelta(hours=1)  # the worker leaves waiting sends alone meanwhile
        plan: list[list[tuple[dict[str, Any], list[tuple[str, str]]]]] = [
            [  # version 1: OCR, then legal
                (
                    {"status": "failed", "failure_reason": "dossier_unknown", "attempts": 1},
                    [("refused", '422 {"error": "unknown dossier code X1"}')],
                ),
                (
                    {"status": "sent", "sent_at": now, "app_reference": "LEX-2026-118"},
                    [("sent", "201 created LEX-2026-118")],
                ),
            ],
            [  # version 2
                (
                    {"status": "pending", "next_attempt_at": later, "attempts": 1},
                    [("fault", "connection refused")],
                ),
                (
                    {"status": "sent", "sent_at": now, "app_reference": "LEX-2026-131"},
                    [("fault", "HTTP 503"), ("sent", "201 created LEX-2026-131")],
                ),
            ],
        ]
        document, failed = 0, 0
        for number, sends in enumerate(plan, start=1):
            receipt = await receive_document(
                hub, admin, DOSSIER, "Achats/2025", NAME, pdf(f"v{number}") * number, "panel"
            )
            document = receipt.document_id
            async with sessions() as session, session.begin():
                rows = list(
                    await session.scalars(
                        select(Delivery)
                        .where(Delivery.document_version_id == receipt.version_id)
                        .order_by(Delivery.id)
                    )
                )
                assert len(rows) == 2
                for row, (values, tries) in zip(rows, sends, strict=True):
                    await session.execute(
                        update(Delivery).where(Delivery.id == row.id).values(**values)
                    )
                    for i, (outcome, detail) in enumerate(tries):
                        session.add(
                            DeliveryAttempt(
                                firm_id=info.firm_id,
                                delivery_id=row.id,
                                at=now - timedelta(seconds=40 - i * 20),
                                outcome=outcome,
                                detail=detail,
                            )
                        )
                    if values["status"] == "failed":
                        failed = row.id
        james = await resolve(sessions, info.tenant_id, info.staff[3].object_id)
        async with sessions() as session:
            other = await session.scalar(
                select(Dossier.code)
                .where(Dossier.master_id != james.id, Dossier.engagement_manager_id != james.id)
                .order_by(Dossier.code)
            )
        assert other is not None
        return document, failed, other

    return arrange_demo(database_url, data_dir, arrange)


@pytest.fixture
def seeded_demo(tmp_path: Path) -> Iterator[Seeded]:
    document, failed, other = seed_history(database_url(tmp_path), tmp_path)
    with run_demo(tmp_path) as demo:
        yield Seeded(demo.url, document, failed, other)


def test_the_history_drawer_opens_retries_and_closes(seeded_demo: Seeded) -> None:
    from playwright.sync_api import expect

    folder = f"{seeded_demo.url}/admin/dossiers/{DOSSIER}/documents?folder=Achats/2025"
    with chromium() as browser:
        # No opening animation: the drawer's geometry is read the moment it shows.
        page = browser.new_page(
            locale="fr-FR", viewport={"width": 1280, "height": 860}, reduced_motion="reduce"
        )
        sign_in(page, "Claire Durand", at=folder)
        expect(page.get_by_role("heading", level=2, name="Achats / 2025")).to_be_visible()
        link = page.get_by_role("link", name=NAME)
        link.click()

        drawer = page.get_by_role("dialog", name=f"Historique {NAME}")
        expect(drawer).to_be_visible()
        expect(page).to_have_url(f"{folder}#history-{seeded_demo.document}")
        expect(drawer.get_by_role("heading", level=2, name=NAME)).to_be_focused()
        versions = drawer.locator(".hist-version")
        expect(versions).to_have_count(2)
        expect(versions.nth(0)).to_contain_text("Version 2")
        expect(versions.nth(0)).to_contain_text("Déposée par Claire Durand")
        expect(versions.nth(1)).to_contain_text("Version 1")
        sends = drawer.locator(".hist-delivery")
        expect(sends).to_have_count(4)
        failed = drawer.locator(f'[data-delivery="{seeded_demo.failed}"]')
        expect(failed).to_contain_text("Échec")
        expect(failed).to_contain_text("Code dossier inconnu")
        expect(failed).to_contain_text("unknown dossier code X1")
        expect(versions.nth(1)).to_contain_text("LEX-2026-118")
        expect(versions.nth(0)).to_contain_text("En attente")
        expect(versions.nth(0)).to_contain_text("incident, nouvel essai prévu")
        _no_sideways_scroll(page, drawer)
        page.screenshot(path=str(SCREENSHOTS / "drawer.png"))

        # Retry the failed send: it comes back pending, with a notice that takes the focus.
        failed.get_by_role("button", name="Renvoyer").click()
        notice = drawer.get_by_role("status")
        expect(notice).to_contain_text("L'envoi à OCR Factures — Achats est remis en file")
        expect(notice).to_be_focused()
        # Pending, or already taken by the demo's partner stand-in.
        expect(failed).to_contain_text(re.compile("En attente|Envoyé"))
        expect(failed).not_to_contain_text("Échec")
        expect(failed.get_by_role("button", name="Renvoyer")).to_have_count(0)
        page.screenshot(path=str(SCREENSHOTS / "drawer-retried.png"))

        # Esc closes it; the focus is back on the document's name, the address without #history.
        page.keyboard.press("Escape")
        expect(drawer).to_be_hidden()
        expect(link).to_be_focused()
        expect(page).to_have_url(folder)

        # The close button, and Back, close it too; a link to #history-<id> opens it.
        link.press("Enter")
        expect(drawer).to_be_visible()
        drawer.get_by_role("button", name="Fermer l'historique").click()
        expect(drawer).to_be_hidden()
        expect(link).to_be_focused()
        link.click()
        expect(drawer).to_be_visible()
        page.go_back()
        expect(drawer).to_be_hidden()
        expect(page).to_have_url(folder)
        page.goto(f"{seeded_demo.url}/admin/")
        page.goto(f"{folder}#history-{seeded_demo.document}")
        expect(drawer).to_be_visible()
        # The demo's partner stand-in takes the retried send: it ends sent, with its reference.
        expect(drawer.locator(f'[data-delivery="{seeded_demo.failed}"]')).to_contain_text(
            "Envoyé", timeout=15_000
        )

        # On a narrow screen the drawer takes the whole width, and nothing spills sideways.
        page.set_viewport_size({"width": 400, "height": 860})
        box = drawer.bounding_box()
        assert box is not None and box["x"] == 0 and box["width"] == 400
        _no_sideways_scroll(page, drawer)
        page.screenshot(path=str(SCREENSHOTS / "drawer-400.png"))
        page.keyboard.press("Escape")
        expect(drawer).to_be_hidden()
        expect(page).to_have_url(folder)


def test_without_javascript_the_name_opens_the_history_page(seeded_demo: Seeded) -> None:
    from playwright.sync_api import expect

    folder = f"{seeded_demo.url}/admin/dossiers/{DOSSIER}/documents?folder=Achats/2025"
    with chromium() as browser:
        context = browser.new_context(
            locale="en-GB", viewport={"width": 1280, "height": 860}, java_script_enabled=False
        )
        james = context.new_page()
        sign_in(james, "James Walker", at=f"{seeded_demo.url}/admin/login")
        # A dossier outside James's portfolio: refused, with whom to ask.
        james.goto(f"{seeded_demo.url}/admin/dossiers/{seeded_demo.not_james}/documents")
        refusal = f"Dossier {seeded_demo.not_james} is not in your portfolio"
        expect(james.get_by_text(refusal)).to_be_visible()
        expect(james.get_by_text("Error 403")).to_be_visible()
        context.close()

        context = browser.new_context(
            locale="en-GB", viewport={"width": 1280, "height": 860}, java_script_enabled=False
        )
        page = context.new_page()
        sign_in(page, "Claire Durand", at=folder)
        page.get_by_role("button", name="EN", exact=True).click()
        page.get_by_role("link", name=NAME).click()
        expect(page).to_have_url(re.compile(rf"/admin/documents/{seeded_demo.document}/history$"))
        expect(page.get_by_role("heading", level=1, name="History")).to_be_visible()
        failed = page.locator(f'[data-delivery="{seeded_demo.failed}"]')
        expect(failed).to_contain_text("Dossier code unknown")
        failed.get_by_role("button", name="Retry").click()
        expect(page.get_by_role("status")).to_contain_text("is queued again")
        expect(failed).to_contain_text(re.compile("Pending|Sent"))  # or taken already
        page.screenshot(path=str(SCREENSHOTS / "history-page.png"), full_page=True)
        page.get_by_role("link", name="Back to the documents").click()
        expect(page.get_by_role("heading", level=2, name="Achats / 2025")).to_be_visible()


def _no_sideways_scroll(page: Any, drawer: Any) -> None:
    """Long names and answers wrap inside the drawer instead of widening it."""
    widths = drawer.evaluate(
        "d => [d.querySelector('.hist-content').scrollWidth, "
        "d.querySelector('.hist-content').clientWidth]"
    )
    assert widths[0] <= widths[1], widths
