"""Issue 4 end to end, on one running server with its worker: dossiers connected to an API
application (by the connect wizard's CSV import) and to a collection-email application (one by
one), documents dropped from the panel, the REST API and Teams, each arriving once where it
should: at the partner sandbox with the dossier's code there, or at the collection address."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import FormData
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from hub import connections
from hub.identity import resolve
from hub.settings import Settings
from hub.tokens import create_token
from relais.app import build_app
from relais.demo import DEMO_STAFF, DemoInfo
from relais.keys import HUB
from storage.models import Contact, ContactDossier, Dossier, Folder
from tests.bot.test_attachments import GUEST_CONTACT, FileServer, file_attachment, post, submit
from tests.connectors.arrange import add_app, pdf
from tests.fakes.connector import FakeBotConnector
from tests.fakes.partner import PartnerSandbox
from tests.fakes.smtp import FakeSmtp

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def _folder_id(hub: Any, firm_id: int, path: str) -> int:
    async with hub.sessions() as session:
        folder_id = await session.scalar(
            select(Folder.id).where(Folder.firm_id == firm_id, Folder.path == path)
        )
    assert folder_id is not None
    return int(folder_id)


async def _panel_upload(client: TestClient, code: str, folder: str, name: str, data: bytes) -> str:
    """As Claire does in a browser: sign in (demo), open the dossier's folder, upload."""
    login = await (await client.get("/admin/login")).text()
    await client.post(
        "/admin/login/demo",
        data={"csrf_token": CSRF.findall(login)[0], "object_id": DEMO_STAFF[0][0]},
    )
    page = await (await client.get(f"/admin/dossiers/{code}/documents?folder={folder}")).text()
    form = FormData()
    form.add_field("csrf_token", CSRF.findall(page)[0])
    form.add_field("folder", folder)
    form.add_field("files", data, filename=name, content_type="application/pdf")
    response = await client.post(f"/admin/dossiers/{code}/documents", data=form)
    assert response.status == 200
    return await response.text()


async def test_documents_from_every_source_reach_their_application_exactly_once(
    settings: Settings,
    demo: DemoInfo,
    aiohttp_client: Any,
    partner_sandbox: PartnerSandbox,
    fake_smtp: FakeSmtp,
    fake_bot_connector: FakeBotConnector,
) -> None:
    settings = settings.model_copy(
        update={"smtp_host": fake_smtp.host, "smtp_port": fake_smtp.port}
    )
    client = await aiohttp_client(build_app(settings, worker=True))
    hub = client.app[HUB]
    admin = await resolve(hub.sessions, demo.tenant_id, DEMO_STAFF[0][0])
    async with hub.sessions() as session:
        guest_code = await session.scalar(
            select(Dossier.code)
            .join(ContactDossier, ContactDossier.dossier_id == Dossier.id)
            .join(Contact, Contact.id == ContactDossier.contact_id)
            .where(Contact.entra_object_id == GUEST_CONTACT)
        )
        guest_dossier = await session.scalar(select(Dossier.id).where(Dossier.code == guest_code))
        other_code = await session.scalar(
            select(Dossier.code).where(Dossier.code != guest_code).order_by(Dossier.code)
        )
    assert guest_code and guest_dossier and other_code

    # The OCR (API) serves the Purchases folder of one dossier, connected by CSV import.
    ocr = await add_app(hub, demo.firm_id, "ocr-achats", api_url=partner_sandbox.url)
    purchases = await _folder_id(hub, demo.firm_id, "Achats")
    csv = f"dossier_code;code_at_application\n{other_code};OCR-{other_code}\n".encode()
    await connections.import_file(hub, admin, ocr, purchases, csv)
    # The expense-receipts application takes the guest's dossier by email, connected one by one.
    expenses = await add_app(hub, demo.firm_id, "collecte-notes-de-frais")
    notes = await _folder_id(hub, demo.firm_id, "Notes de frais")
    address = f"notes.{guest_code.lower()}@collecte.cabinet.example"
    await connections.save(
        hub, admin, expenses, notes, [connections.Entry(guest_dossier, True, address)]
    )

    # 1. The panel, 2. the REST API with a firm token, 3. a file the contact sends in Teams.
    page = await _panel_upload(client, other_code, "Achats/2026", "facture-panel.pdf", pdf("p"))
    assert "facture-panel.pdf" in page
    token = await create_token(hub, admin, "Scanner de l'accueil")
    form = FormData(quote_fields=False)
    form.add_field("folder", "Achats/2025")
    form.add_field("file", pdf("api"), filename="facture-api.pdf", content_type="application/pdf")
    response = await client.post(
        f"/api/v1/dossiers/{other_code}/documents",
        data=form,
        headers={"Authorization": f"Bearer {token.secret}"},
    )
    assert response.status == 201, await response.text()
    onedrive = FileServer()
    with onedrive.server:
        link = onedrive.link("receipt", pdf("teams"))
        card = await post(
            client,
            fake_bot_connector,
            user=GUEST_CONTACT,
            files=[file_attachment("ticket-taxi.pdf", link)],
        )
        await post(
            client,
            fake_bot_connector,
            user=GUEST_CONTACT,
            value=submit(card, folder="Notes de frais"),
        )

    # Each one arrives once, where its folder is connected, with the dossier's code there.
    documents = await partner_sandbox.documents.await_for(2)
    assert sorted((d.file_name, d.dossier_code) for d in documents) == [
        ("facture-api.pdf", f"OCR-{other_code}"),
        ("facture-panel.pdf", f"OCR-{other_code}"),
    ]
    (mail,) = await fake_smtp.messages.await_for(1)
    assert mail.rcpt_tos == [address]
    attached = [
        (a.get_filename(), a.get_payload(decode=True)) for a in mail.message.iter_attachments()
    ]
    assert attached == [("ticket-taxi.pdf", pdf("teams"))]
    assert partner_sandbox.duplicates.items == []
    assert len(partner_sandbox.documents.items) == 2
