"""Workers as separate processes: killed mid-send (SIGKILL) and restarted, nothing is lost and
nothing is sent twice except what was in flight — and the sandbox recognises that by its key.
On PostgreSQL, four workers share one outbox without sending anything twice."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hub.documents import blob_store, receive_document
from hub.services import Hub
from storage.models import Delivery
from tests import scenes
from tests.connectors.arrange import add_app, deliveries, pdf
from tests.connectors.bulk import fill_outbox
from tests.fakes.partner import PartnerSandbox
from tests.scenes import Office

ROOT = Path(__file__).resolve().parents[2]


class Workers:
    """Worker processes started by a test, all stopped at its end whatever happens."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, *, lease: float, concurrency: int, batch: int) -> subprocess.Popen[bytes]:
        settings = self.hub.settings
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.connectors.worker_process",
                "--database-url",
                settings.database_url,
                "--data-dir",
                str(settings.data_dir),
                "--encryption-key",
                settings.encryption_key.get_secret_value(),
                "--lease",
                str(lease),
                "--concurrency",
                str(concurrency),
                "--batch",
                str(batch),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
        )
        assert process.stdout is not None
        assert process.stdout.readline().strip() == b"ready"
        self.processes.append(process)
        return process

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
            assert process.stdout is not None
            process.stdout.close()


@pytest.fixture
def workers(hub: Hub) -> Iterator[Workers]:
    started = Workers(hub)
    yield started
    started.stop_all()


async def wait_until(
    condition: Callable[[], Awaitable[bool]],
    timeout: float,  # noqa: ASYNC109 - a bounded poll of the database
    what: str,
) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        await asyncio.sleep(0.1)


async def unsent(hub: Hub) -> int:
    async with hub.sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.status != "sent")
        )
    return int(count or 0)


async def test_a_killed_worker_loses_nothing_and_only_in_flight_sends_repeat(
    hub: Hub, office: Office, partner_sandbox: PartnerSandbox, workers: Workers
) -> None:
    code = office.dossier.code
    app = await add_app(hub, office.firm.id, "ocr-achats", api_url=partner_sandbox.url)
    await scenes.connection(hub.sessions, office.firm.id, app, office.dossier.id, ["Achats"])
    admin = await scenes.actor(hub.sessions, office.firm, office.admin)
    for index in range(40):
        await receive_document(hub, admin, code, "Achats", f"f{index}.pdf", pdf(str(index)), "api")
    keys = {d.idempotency_key for d in await deliveries(hub.sessions)}
    assert len(keys) == 40
    # Slow answers keep sends in flight when the kill comes.
    partner_sandbox.latency = 0.05
    concurrency = 4

    first = workers.start(lease=2.0, concurrency=concurrency, batch=8)
    await partner_sandbox.documents.await_for(10, timeout=30)
    workers.kill(first)
    assert 10 <= len(partner_sandbox.documents) < 40, "the kill must land mid-way"

    workers.start(lease=2.0, concurrency=concurrency, batch=8)
    await wait_until(lambda: _all_sent(hub), 60, "every delivery sent after the restart")

    received = partner_sandbox.documents.items
    assert sorted(d.idempotency_key for d in received) == sorted(keys)  # each exactly once
    references = {d.idempotency_key: d.reference for d in received}
    duplicates = partner_sandbox.duplicates.items
    # Only what the dead worker had in flight (claimed, not yet recorded) comes back, and the
    # sandbox answers it with the first reference.
    assert len(duplicates) <= 8
    assert all(references[d.idempotency_key] == d.reference for d in duplicates)
    for sent in await deliveries(hub.sessions):
        assert sent.status == "sent" and sent.app_reference == references[sent.idempotency_key]


async def _all_sent(hub: Hub) -> bool:
    return await unsent(hub) == 0


@pytest.mark.postgres
# Several workers at once is the PostgreSQL deployment (SKIP LOCKED): this one runs there only.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_four_workers_share_5000_deliveries_without_duplicates(
    hub: Hub,
    office: Office,
    partner_sandbox: PartnerSandbox,
    workers: Workers,
    database_url: str,
) -> None:
    app = await add_app(hub, office.firm.id, "ocr-achats", api_url=partner_sandbox.url)
    connection_id = await scenes.connection(
        hub.sessions, office.firm.id, app, office.dossier.id, ["Achats"]
    )
    keys = await fill_outbox(
        hub.sessions,
        blob_store(hub.settings),
        firm_id=office.firm.id,
        dossier_id=office.dossier.id,
        folder_id=office.folders["Achats"],
        connection_id=connection_id,
        count=5000,
    )
    for _ in range(4):
        workers.start(lease=30.0, concurrency=16, batch=64)
    await wait_until(lambda: _all_sent(hub), 60, "5,000 deliveries sent by four workers")

    received = partner_sandbox.documents.items
    assert len(received) == 5000
    assert sorted(d.idempotency_key for d in received) == sorted(keys)
    assert partner_sandbox.duplicates.items == []
