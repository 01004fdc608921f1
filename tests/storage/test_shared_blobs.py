"""Issue 14: a document received by one process is sent by a worker on another machine. The
receiving side and the worker share only the database and the Azure container (Azurite): each
has its own data folder, and neither writes a file there."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from pydantic import SecretStr

from hub.documents import receive_document
from hub.settings import Settings
from relais.app import build_worker
from relais.services import build_services, check_blobs
from storage.db import Sessions
from tests import scenes
from tests.conftest import Azurite
from tests.connectors.arrange import PDF, add_app, attempts, deliveries, delivery, sha
from tests.fakes.partner import PartnerSandbox
from tests.scenes import Office


def machine(settings: Settings, azurite: Azurite, container: str, folder: Path) -> Settings:
    return settings.model_copy(
        update={
            "data_dir": folder,
            "blob_url": f"azure://{container}",
            "blob_connection_string": SecretStr(azurite.connection_string()),
        }
    )


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


async def test_a_worker_on_another_machine_sends_what_the_server_received(
    settings: Settings,
    sessions: Sessions,
    office: Office,
    partner_sandbox: PartnerSandbox,
    azurite: Azurite,
    tmp_path: Path,
) -> None:
    container = f"e2e-{uuid.uuid4().hex[:12]}"
    server = build_services(machine(settings, azurite, container, tmp_path / "server"), sessions)
    far = build_services(machine(settings, azurite, container, tmp_path / "worker"), sessions)
    try:
        await check_blobs(server.blobs)
        await check_blobs(far.blobs)
        app = await add_app(server, office.firm.id, "ocr-achats", api_url=partner_sandbox.url)
        await scenes.connection(
            sessions, office.firm.id, app, office.dossier.id, ["Achats"], code_at_app="OCR-1"
        )
        admin = await scenes.actor(sessions, office.firm, office.admin)
        data = PDF + b"% received on the server, sent from the worker's machine\n"
        receipt = await receive_document(
            server, admin, office.dossier.code, "Achats/2025", "facture.pdf", data, "api"
        )
        (queued,) = await deliveries(sessions, receipt.version_id)

        async with build_worker(far) as worker:
            report = await worker.run_once()
        assert (report.claimed, report.sent) == (1, 1)
    finally:
        await server.aclose()
        await far.aclose()

    (received,) = partner_sandbox.documents.items
    assert (received.file_name, received.sha256, received.size) == (
        "facture.pdf",
        sha(data),
        len(data),
    )
    assert (await delivery(sessions, queued.id)).status == "sent"
    assert files_under(tmp_path / "server") == [] and files_under(tmp_path / "worker") == []


async def test_a_worker_that_cannot_reach_the_store_retries_later_instead_of_failing(
    settings: Settings,
    sessions: Sessions,
    office: Office,
    partner_sandbox: PartnerSandbox,
    azurite: Azurite,
    tmp_path: Path,
) -> None:
    from tests.conftest import _free_port

    container = f"e2e-{uuid.uuid4().hex[:12]}"
    server = build_services(machine(settings, azurite, container, tmp_path / "server"), sessions)
    unreachable = Azurite(_free_port())  # nothing listens there
    far = build_services(machine(settings, unreachable, container, tmp_path / "far"), sessions)
    try:
        await check_blobs(server.blobs)
        app = await add_app(server, office.firm.id, "ocr-achats", api_url=partner_sandbox.url)
        await scenes.connection(
            sessions, office.firm.id, app, office.dossier.id, ["Achats"], code_at_app="OCR-1"
        )
        admin = await scenes.actor(sessions, office.firm, office.admin)
        receipt = await receive_document(
            server, admin, office.dossier.code, "Achats", "facture.pdf", PDF, "api"
        )
        (queued,) = await deliveries(sessions, receipt.version_id)
        async with build_worker(far) as worker:
            report = await worker.run_once()
    finally:
        await server.aclose()
        await far.aclose()

    assert report.sent == 0 and partner_sandbox.documents.items == []
    waiting = await delivery(sessions, queued.id)
    assert waiting.status == "pending" and waiting.next_attempt_at is not None
    (attempt,) = await attempts(sessions, queued.id)
    assert "the blob store cannot be read" in attempt.detail


async def test_relais_serve_refuses_to_start_on_a_refused_account_key(
    settings: Settings, azurite: Azurite, tmp_path: Path
) -> None:
    from aiohttp.test_utils import TestServer

    from hub.errors import ConfigurationError
    from relais.app import build_app

    wrong = azurite.connection_string("d3Jvbmcta2V5LW5vdC10aGUtYWNjb3VudHMtb25l")
    refused = settings.model_copy(
        update={
            "data_dir": tmp_path / "data",
            "blob_url": "azure://documents",
            "blob_connection_string": SecretStr(wrong),
        }
    )
    server = TestServer(build_app(refused))
    try:
        with pytest.raises(ConfigurationError, match="refused the credentials"):
            await server.start_server()
    finally:
        await server.close()
