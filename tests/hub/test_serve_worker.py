"""`relais serve` runs the delivery worker in its own process: an upload reaches the application.

The worker here polls once an hour: a document arrives within the test's wait only because the
upload rang the hub's signal (``Hub.deliveries_queued``), whichever face it came through.
"""

from __future__ import annotations

from typing import Any

from connectors.worker import WorkerConfig
from hub.documents import receive_document
from hub.settings import Settings
from hub.tokens import create_token
from relais.app import build_app
from relais.keys import HUB
from tests import scenes
from tests.connectors.arrange import add_app, pdf, sha
from tests.fakes.partner import PartnerSandbox
from tests.scenes import Office

# Without the signal, nothing would be sent before the next poll, an hour away.
HOURLY = WorkerConfig(poll_interval=3600)


async def test_a_document_uploaded_to_a_running_server_reaches_the_application(
    settings: Settings, office: Office, aiohttp_client: Any, partner_sandbox: PartnerSandbox
) -> None:
    client = await aiohttp_client(build_app(settings, worker=True, worker_config=HOURLY))
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

    (received,) = await partner_sandbox.documents.await_for(1)
    assert (received.dossier_code, received.file_name) == ("OCR-DOS", "invoice-0412.pdf")
    assert received.sha256 == sha(document) and receipt.deliveries == 1


async def test_an_upload_through_the_rest_api_wakes_the_worker_at_once(
    settings: Settings, office: Office, aiohttp_client: Any, partner_sandbox: PartnerSandbox
) -> None:
    client = await aiohttp_client(build_app(settings, worker=True, worker_config=HOURLY))
    hub = client.app[HUB]
    app_id = await add_app(hub, office.firm.id, "ocr-achats", api_url=partner_sandbox.url)
    await scenes.connection(
        hub.sessions, office.firm.id, app_id, office.dossier.id, ["Achats"], code_at_app="OCR-DOS"
    )
    admin = await scenes.actor(hub.sessions, office.firm, office.admin)
    token = (await create_token(hub, admin, "Scanner")).secret

    response = await client.post(
        f"/api/v1/dossiers/{office.dossier.code}/documents",
        params={"folder": "Achats", "filename": "releve-mars.pdf"},
        data=pdf("releve-mars"),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/pdf"},
    )
    assert response.status == 201, await response.text()

    (received,) = await partner_sandbox.documents.await_for(1)
    assert (received.dossier_code, received.file_name) == ("OCR-DOS", "releve-mars.pdf")
