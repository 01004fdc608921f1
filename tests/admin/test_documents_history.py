"""A document's history in the panel (/admin/documents/{id}/history): the page, the fragment the
folder view's drawer shows, retry from it, and who may see it — as a person reads them, in French
and English."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from hub.documents import receive_document
from hub.services import Hub
from relais.demo import DemoInfo
from storage.models import AuditEvent, Delivery, DeliveryAttempt
from tests.admin.conftest import CLAIRE, JAMES, Client, csrf_of, html_lang, visible
from tests.connectors.arrange import pdf
from tests.hub.test_history import Scene, arrange_scene

SOPHIE = "a0000000-0000-4000-8000-000000000003"  # collaborator, master of scene.sophie_code

SignIn = Callable[..., Awaitable[str]]


@dataclass
class History:
    scene: Scene
    document: int  # facture-0412.pdf, on Sophie's dossier, two versions
    failed: int  # v1 → OCR: failed, dossier code unknown
    sent: int  # v2 → OCR: sent after a fault, reference OCR-7781
    pending: int  # v2 → legal: pending after a timeout


async def _arrange(hub: Hub, demo: DemoInfo) -> History:
    """facture-0412.pdf: version 1 (from the scene: OCR failed, legal pending) and a bigger
    version 2 from Teams whose OCR send went through on the second attempt and whose legal send
    waits for its next try."""
    scene = await arrange_scene(hub, demo)
    big = pdf("v2") + b"%" + b"x" * 3000 + b"\n"
    receipt = await receive_document(
        hub, scene.admin, scene.sophie_code, "Achats/2025", "facture-0412.pdf", big, "bot"
    )
    assert receipt.number == 2
    now = datetime.now(UTC).replace(microsecond=0)
    async with hub.sessions() as session, session.begin():
        v2 = list(
            await session.scalars(
                select(Delivery)
                .where(Delivery.document_version_id == receipt.version_id)
                .order_by(Delivery.id)
            )
        )
        ocr, legal = v2
        await session.execute(
            update(Delivery)
            .where(Delivery.id == ocr.id)
            .values(status="sent", sent_at=now, app_reference="OCR-7781", attempts=2)
        )
        await session.execute(
            update(Delivery)
            .where(Delivery.id == legal.id)
            .values(next_attempt_at=now + timedelta(minutes=5), attempts=1)
        )
        session.add_all(
            [
                DeliveryAttempt(
                    firm_id=ocr.firm_id,
                    delivery_id=ocr.id,
                    at=now - timedelta(seconds=30),
                    outcome="fault",
                    detail="HTTP 503: service unavailable",
                ),
                DeliveryAttempt(
                    firm_id=ocr.firm_id,
                    delivery_id=ocr.id,
                    at=now,
                    outcome="sent",
                    detail="accepted as OCR-7781",
                ),
                DeliveryAttempt(
                    firm_id=legal.firm_id,
                    delivery_id=legal.id,
                    at=now,
                    outcome="fault",
                    detail="timed out after 30 s",
                ),
            ]
        )
    return History(
        scene,
        scene.docs["facture-0412.pdf"],
        scene.failed["facture-0412.pdf"],
        ocr.id,
        legal.id,
    )


@pytest.fixture
async def arranged(hub: Hub, demo: DemoInfo) -> History:
    return await _arrange(hub, demo)


def _delivery(page: str, delivery_id: int) -> str:
    """The visible text of one send in the history."""
    start = rf'<li class="hist-delivery[^"]*" data-delivery="{delivery_id}">'
    end = r'</li>\s*(?=<li class="hist-delivery|</ul>)'  # the send's own </li>, not an attempt's
    match = re.search(f"{start}(.*?){end}", page, re.S)
    assert match, f"no delivery {delivery_id} on the page"
    return visible(match.group(1))


async def test_the_history_page_lists_versions_sends_and_attempts_in_french(
    client: Client, signed_in: SignIn, arranged: History
) -> None:
    await signed_in(CLAIRE)
    response = await client.get(f"/admin/documents/{arranged.document}/history")
    assert response.status == 200
    page = await response.text()
    assert html_lang(page) == "fr"
    text = visible(page)
    code = arranged.scene.sophie_code
    assert f"Dossiers › {code} › Documents › Historique" in text
    assert "facture-0412.pdf" in text and "Achats / 2025" in text
    # Newest first, each with who, when, how and its size (human-readable).
    assert re.search(
        r"Version 2 dernière 3,\d Ko Déposée par Claire Durand le "
        r"\d\d/\d\d/20\d\d \d\d:\d\d via Teams",
        text,
    )
    assert re.search(r"Version 1 \d+ o Déposée par Claire Durand le .{16} via panneau", text)
    assert text.index("Version 2") < text.index("Version 1")

    sent = _delivery(page, arranged.sent)
    assert sent.startswith("OCR Factures — Achats ✓ Envoyé")
    assert re.search(r"Mis en file \d\d/\d\d/20\d\d \d\d:\d\d Envoyé le \d\d/\d\d", sent)
    assert "Référence chez l'application OCR-7781" in sent
    assert re.search(
        r"Essais \d\d/\d\d/20\d\d \d\d:\d\d:\d\d incident, nouvel essai prévu "
        r"Réponse de l'application : HTTP 503: service unavailable "
        r"\d\d/\d\d/20\d\d \d\d:\d\d:\d\d accepté Réponse de l'application : accepted as OCR-7781",
        sent,
    )
    assert "Renvoyer" not in sent

    pending = _delivery(page, arranged.pending)
    assert pending.startswith("Gestion juridique ◷ En attente")
    assert "Prochain essai" in pending and "timed out after 30 s" in pending

    failed = _delivery(page, arranged.failed)
    assert failed.startswith("OCR Factures — Achats ✕ Échec")
    assert "Motif : Code dossier inconnu" in failed
    assert "L'application ne connaît pas ce code dossier : vérifiez le code" in failed
    assert "refusé Réponse de l'application : dossier_unknown: refused by the sandbox" in failed
    assert "Renvoyer" in failed
    # Four sends in all; v1's legal send has had no try yet.
    assert len(re.findall(r'data-delivery="\d+"', page)) == 4
    assert "Pas encore d'essai." in text
    assert "Heures en UTC." in text
    assert "style=" not in page


async def test_the_fragment_for_the_drawer_is_the_same_history_without_the_layout(
    client: Client, signed_in: SignIn, arranged: History
) -> None:
    await signed_in(JAMES)  # English; James may see his own dossier's documents only
    doc = arranged.scene.docs["facture-0413.pdf"]
    response = await client.get(f"/admin/documents/{doc}/history?partial=1")
    assert response.status == 200
    page = await response.text()
    assert "<html" not in page and "<nav" not in page
    assert page.lstrip().startswith('<article class="hist"')
    text = visible(page)
    assert text.startswith(f"facture-0413.pdf {arranged.scene.james_code}")
    assert "Version 1" in text and "latest" not in text  # one version: nothing to compare
    assert "OCR Factures — Achats ✕ Failed Queued" in text
    assert "Reason : File too large" in text
    assert "compress or split the document" in text
    assert "Gestion juridique ◷ Pending" in text and "No attempt yet." in text
    assert re.search(r"Uploaded by Claire Durand on 20\d\d-\d\d-\d\d \d\d:\d\d through admin", text)
    assert 'aria-label="Retry facture-0413.pdf to OCR Factures — Achats"' in page
    assert "Times in UTC." in text


async def test_retry_from_the_history_queues_the_send_again_with_a_notice(
    client: Client, signed_in: SignIn, arranged: History, hub: Hub
) -> None:
    await signed_in(SOPHIE)  # the dossier's master
    url = f"/admin/documents/{arranged.document}/history"
    page = await (await client.get(url)).text()
    response = await client.post(
        f"{url}/retry",
        data={"csrf_token": csrf_of(page), "delivery": str(arranged.failed), "partial": "1"},
        allow_redirects=False,
    )
    assert response.status == 303
    assert response.headers["Location"] == f"{url}?partial=1"
    fragment = await (await client.get(response.headers["Location"])).text()
    assert "<html" not in fragment
    # The notice is in the send retried, where the button was.
    again = _delivery(fragment, arranged.failed)
    assert again.startswith(
        "OCR Factures — Achats ◷ En attente ✓ L'envoi à OCR Factures — Achats est remis en file : "
        "il est en attente et partira dans un instant."
    )
    assert "Renvoyer" not in again
    # The earlier attempt stays in the history.
    assert "dossier_unknown: refused by the sandbox" in again
    async with hub.sessions() as session:
        row = await session.get(Delivery, arranged.failed)
        event = await session.scalar(
            select(AuditEvent).where(AuditEvent.action == "deliveries.retried")
        )
    assert row is not None and row.status == "pending"
    assert event is not None and event.actor == arranged.scene.sophie.ref

    # The notice is shown once; a second retry of the same send finds nothing to do.
    assert "remis en file" not in visible(await (await client.get(url)).text())
    response = await client.post(
        f"{url}/retry", data={"csrf_token": csrf_of(page), "delivery": str(arranged.failed)}
    )
    assert response.status == 200 and str(response.url).endswith(url)
    assert "Rien n'a été remis en file : cet envoi n'est plus en échec." in visible(
        await response.text()
    )


async def test_retry_needs_the_csrf_token_and_a_send_of_this_document(
    client: Client, signed_in: SignIn, arranged: History, hub: Hub
) -> None:
    await signed_in(CLAIRE)
    url = f"/admin/documents/{arranged.document}/history"
    response = await client.post(f"{url}/retry", data={"delivery": str(arranged.failed)})
    assert response.status == 403
    page = await (await client.get(url)).text()
    other = arranged.scene.failed["facture-0413.pdf"]  # another document's failed send
    response = await client.post(
        f"{url}/retry", data={"csrf_token": csrf_of(page), "delivery": str(other)}
    )
    assert "Rien n'a été remis en file" in visible(await response.text())
    async with hub.sessions() as session:
        rows = {
            d.id: d.status
            for d in await session.scalars(
                select(Delivery).where(Delivery.id.in_([other, arranged.failed]))
            )
        }
    assert rows == {other: "failed", arranged.failed: "failed"}


async def test_a_collaborator_is_refused_another_portfolios_document(
    client: Client, signed_in: SignIn, arranged: History
) -> None:
    await signed_in(JAMES)
    url = f"/admin/documents/{arranged.document}/history"  # Sophie's dossier
    response = await client.get(url)
    assert response.status == 404
    text = visible(await response.text())
    assert "This document does not exist or is not in your dossiers." in text
    assert "facture-0412.pdf" not in text
    response = await client.get(f"{url}?partial=1")
    assert response.status == 404
    page = await client.get(f"/admin/documents/{arranged.scene.docs['facture-0413.pdf']}/history")
    response = await client.post(
        f"{url}/retry",
        data={"csrf_token": csrf_of(await page.text()), "delivery": str(arranged.failed)},
    )
    assert response.status == 404
    folder = await client.get(f"/admin/dossiers/{arranged.scene.sophie_code}/documents")
    assert folder.status == 403
    assert "is not in your portfolio" in visible(await folder.text())
    assert "ask Sophie Martin" in visible(await folder.text())


async def test_an_unknown_document_is_a_not_found_page(
    client: Client, signed_in: SignIn, arranged: History
) -> None:
    await signed_in(CLAIRE)
    response = await client.get("/admin/documents/999999/history")
    assert response.status == 404
    assert "Ce document n'existe pas ou n'est pas dans vos dossiers." in visible(
        await response.text()
    )
    response = await client.get("/admin/documents/abc/history")
    assert response.status == 404
    assert "Erreur 404 Page introuvable" in visible(await response.text())
    response = await client.get("/admin/documents/1/history", allow_redirects=False)
    assert response.status == 200
    await client.post("/admin/logout", data={"csrf_token": csrf_of(await response.text())})
    response = await client.get("/admin/documents/1/history", allow_redirects=False)
    assert response.status == 302 and "/admin/login" in response.headers["Location"]


async def test_the_folder_view_links_each_name_to_its_history(
    client: Client, signed_in: SignIn, arranged: History
) -> None:
    await signed_in(SOPHIE)
    code = arranged.scene.sophie_code
    page = await (await client.get(f"/admin/dossiers/{code}/documents?folder=Achats/2025")).text()
    doc = arranged.document
    assert re.search(
        rf'<a class="doc-history-link js-history" href="/admin/documents/{doc}/history" '
        rf'data-document="{doc}" title="Historique de facture-0412.pdf">facture-0412.pdf</a>',
        page,
    )
    assert '<dialog id="history-drawer"' in page and 'aria-modal="true"' in page
    text = visible(page)
    assert re.search(r"facture-0412\.pdf v2 3,\d Ko Claire Durand .* Teams", text)
