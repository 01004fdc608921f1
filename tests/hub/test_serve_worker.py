"""`relais serve` runs the delivery worker in its own process: an upload reaches the application."""

from __future__ import annotations

from typing import Any

from hub.documents import receive_document
from hub.settings import Settings
from relais.app import build_app
from relais.demo import DemoInfo
from relais.keys import HUB, WORKER
from tests.connectors.arrange import actor, add_app, connect, pdf, sha
from tests.fakes.partner import PartnerSandbox


async def test_a_document_uploaded_to_a_running_server_reaches_the_application(
    settings: Settings, demo: DemoInfo, aiohttp_client: Any, partner_sandbox: PartnerSandbox
) -> None:
    client = await aiohttp_client(build_app(settings, worker=True))
    hub = client.app[HUB]
    app_id = await add_app(hub, demo.firm_id, "ocr-achats", api_url=partner_sandbox.url)
    await connect(hub.sessions, demo.firm_id, app_id, "BLA011", ["Achats"], code_at_app="OCR-BLA")

    document = pdf("invoice-0412")
    receipt = await receive_document(
        hub, await actor(hub, demo), "BLA011", "Achats/2026", "invoice-0412.pdf", document, "panel"
    )
    client.app[WORKER].wake()

    (received,) = await partner_sandbox.documents.await_for(1)
    assert (received.dossier_code, received.file_name) == ("OCR-BLA", "invoice-0412.pdf")
    assert received.sha256 == sha(document) and receipt.deliveries == 1
