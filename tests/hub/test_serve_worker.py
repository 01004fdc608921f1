"""`relais serve` runs the delivery worker in its own process: an upload reaches the application."""

from __future__ import annotations

from typing import Any

from hub.documents import receive_document
from hub.settings import Settings
from relais.app import build_app
from relais.keys import HUB, WORKER
from tests import scenes
from tests.connectors.arrange import add_app, pdf, sha
from tests.fakes.partner import PartnerSandbox
from tests.scenes import Office


async def test_a_document_uploaded_to_a_running_server_reaches_the_application(
    settings: Settings, office: Office, aiohttp_client: Any, partner_sandbox: PartnerSandbox
) -> None:
    client = await aiohttp_client(build_app(settings, worker=True))
    hub = client.app[HUB]
    app_id = await add_app(hub, office.firm.id, "ocr-achats", api_url=partner_sandbox.url)
    await scenes.connection(
        hub.sessions, office.firm.id, app_id, office.dossier.id, ["Achats"], code_at_app="OCR-DOS"
    )

    document = pdf("invoice-0412")
    admin = await scenes.actor(hub.sessions, office.firm, office.admin)
    receipt = await receive_document(
        hub, admin, office.dossier.code, "Achats/2025", "invoice-0412.pdf", document, "panel"
    )
    client.app[WORKER].wake()

    (received,) = await partner_sandbox.documents.await_for(1)
    assert (received.dossier_code, received.file_name) == ("OCR-DOS", "invoice-0412.pdf")
    assert received.sha256 == sha(document) and receipt.deliveries == 1
