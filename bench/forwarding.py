"""Forwarding throughput: N small documents through the real delivery worker to the partner
sandbox, beside a plain httpx loop posting the same files to the same sandbox.

    python bench/forwarding.py                          # 10,000 documents, SQLite
    python bench/forwarding.py --documents 2000
    python bench/forwarding.py --database-url postgresql://postgres@127.0.0.1:5432/bench
    python bench/forwarding.py --blob-url azurite       # files in Azurite (.cache/azurite)
    python bench/forwarding.py --blob-url azure://CONTAINER   # RELAIS_BLOB_CONNECTION_STRING

The sandbox (tests/fakes/partner.py) runs in its own process on loopback. The outbox is filled
in bulk first (intake is not what is measured here). The **baseline** posts every file once,
with the same multipart fields and headers, ``--concurrency`` requests at a time — what sending
costs with no database, no claims and no bookkeeping. The worker runs with the same concurrency;
its time covers claiming, reading each file from the blob store, sending, and recording every
attempt and outcome. Both runs are checked: the sandbox must hold exactly N documents.
With ``--blob-url`` the worker reads every file from that store (an Azure container: the
emulator Azurite started here for ``azurite``) instead of the local folder.
Prints one JSON object per figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.processes import free_port, listening, python_module  # noqa: E402
from connectors.worker import DeliveryWorker, WorkerConfig  # noqa: E402
from storage.blobs import Blobs, BlobStore, open_blob_store, parse_blob_url  # noqa: E402
from tests.connectors.bulk import PDF_HEAD, fill_outbox  # noqa: E402
from tests.fakes.partner import SANDBOX_KEY_ID, SANDBOX_SECRET  # noqa: E402

DISTINCT = 100


def start_sandbox(port: int) -> subprocess.Popen[bytes]:
    return listening(
        python_module("tests.fakes.partner", "--port", str(port)), port, name="sandbox"
    )


async def prepare(url: str, workdir: Path, sandbox_url: str, count: int) -> tuple[object, object]:
    from sqlalchemy import select

    from hub.settings import Settings
    from relais.demo import seed
    from relais.services import build_services
    from storage.db import create_engine, session_factory
    from storage.migrate import upgrade_async
    from storage.models import (
        CatalogApp,
        Connection,
        ConnectionFolder,
        Dossier,
        FirmApplication,
        Folder,
    )

    await upgrade_async(url)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, database_url=url, demo=True, data_dir=workdir, encryption_key="bench"
    )
    engine = create_engine(settings.database_url)
    hub = build_services(settings, session_factory(engine))
    info = await seed(hub.sessions, dossier_count=20)
    async with hub.sessions() as session, session.begin():
        app = await session.scalar(select(CatalogApp).where(CatalogApp.slug == "ocr-achats"))
        dossier = await session.scalar(
            select(Dossier).where(Dossier.firm_id == info.firm_id).order_by(Dossier.code)
        )
        folder = await session.scalar(
            select(Folder).where(Folder.firm_id == info.firm_id, Folder.path == "Achats")
        )
        assert app and dossier and folder
        firm_app = FirmApplication(
            firm_id=info.firm_id,
            catalog_app_id=app.id,
            api_url=sandbox_url,
            api_key_id=SANDBOX_KEY_ID,
            secret_encrypted=hub.vault.seal(SANDBOX_SECRET),
        )
        session.add(firm_app)
        await session.flush()
        connection = Connection(
            firm_id=info.firm_id, firm_application_id=firm_app.id, dossier_id=dossier.id
        )
        session.add(connection)
        await session.flush()
        session.add(
            ConnectionFolder(firm_id=info.firm_id, connection_id=connection.id, folder_id=folder.id)
        )
        ids = (info.firm_id, dossier.id, folder.id, connection.id)
    await fill_outbox(
        hub.sessions,
        BlobStore(workdir / "blobs"),
        firm_id=ids[0],
        dossier_id=ids[1],
        folder_id=ids[2],
        connection_id=ids[3],
        count=count,
        distinct_contents=DISTINCT,
    )
    return hub, engine


async def baseline(sandbox_url: str, count: int, concurrency: int) -> float:
    contents = [PDF_HEAD + f"% doc {i}\n".encode() for i in range(DISTINCT)]
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(count):
        queue.put_nowait(index)
    limits = httpx.Limits(
        max_connections=concurrency * 2, max_keepalive_connections=concurrency * 2
    )
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def sender() -> None:
            while not queue.empty():
                index = queue.get_nowait()
                name = f"doc-{index:06d}.pdf"
                response = await client.post(
                    f"{sandbox_url}/documents",
                    headers={
                        "X-Api-Key-Id": SANDBOX_KEY_ID,
                        "Authorization": f"Bearer {SANDBOX_SECRET}",
                        "Idempotency-Key": f"baseline-{index}",
                    },
                    data={"dossier_code": "BENCH", "file_name": name, "document_type": "purchases"},
                    files={"file": (name, contents[index % DISTINCT], "application/pdf")},
                )
                if response.status_code != 201:
                    raise SystemExit(f"baseline: HTTP {response.status_code} {response.text}")

        began = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(concurrency)))
        return count / (time.perf_counter() - began)


async def forward(
    hub: object,
    blobs: Blobs,
    sandbox_url: str,
    count: int,
    concurrency: int,
    batch: int,
) -> float:
    from hub.services import Hub

    assert isinstance(hub, Hub)
    worker = DeliveryWorker(
        hub.sessions,
        blobs,
        open_secret=hub.vault.open,
        config=WorkerConfig(concurrency=concurrency, batch_size=batch),
    )
    began = time.perf_counter()
    worker.start()
    # The production loop (``run``), stopped once the sandbox holds every document; ``stop``
    # returns when the last outcomes are recorded, so the time covers the bookkeeping too.
    async with httpx.AsyncClient() as client:
        while True:  # the sandbox is another process: polled, nothing to await on
            if (await client.get(f"{sandbox_url}/_sandbox/stats")).json()["documents"] >= count:
                break
            await asyncio.sleep(0.05)
    await worker.stop()
    elapsed = time.perf_counter() - began
    from sqlalchemy import func, select

    from storage.models import Delivery

    async with hub.sessions() as session:
        sent = await session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.status == "sent")
        )
    if sent != count:
        raise SystemExit(f"the worker recorded {sent} of {count} as sent")
    return count / elapsed


def start_azurite(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Azurite as the tests start it (``npm install --prefix .cache/azurite azurite@3``)."""
    from tests.conftest import AZURITE_BIN, Azurite, azurite_command

    if not AZURITE_BIN.exists():
        raise SystemExit("Azurite is not installed: npm install --prefix .cache/azurite azurite@3")
    port = free_port()
    location = workdir / "azurite"
    location.mkdir()
    process = subprocess.Popen(
        azurite_command(port, location),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process, Azurite(port).connection_string()
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("Azurite did not listen within 30 s")


async def blob_target(args: argparse.Namespace, workdir: Path) -> Blobs:
    """The store the worker reads from, holding the outbox's files (copied from the folder
    ``fill_outbox`` wrote)."""
    local = BlobStore(workdir / "blobs")
    if not args.blob_url:
        return local
    url = "azure://bench" if args.blob_url == "azurite" else args.blob_url
    store = open_blob_store(parse_blob_url(url, workdir), args.connection_string)
    await store.check()
    for digest in local.digests():
        await store.store(local.read(digest))
    return store


async def stats(sandbox_url: str, reset: bool = False) -> dict[str, int]:
    async with httpx.AsyncClient() as client:
        figures: dict[str, int] = (await client.get(f"{sandbox_url}/_sandbox/stats")).json()
        if reset:
            await client.post(f"{sandbox_url}/_sandbox/reset")
    return figures


async def run(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="relais-bench-forwarding-"))
    url = args.database_url or f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    for plain, driver in (
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
    ):
        if url.startswith(plain):
            url = driver + url.removeprefix(plain)
    azurite = None
    if args.blob_url == "azurite":
        azurite, args.connection_string = start_azurite(workdir)
    port = free_port()
    sandbox = start_sandbox(port)
    sandbox_url = f"http://127.0.0.1:{port}"
    try:
        hub, engine = await prepare(url, workdir, sandbox_url, args.documents)
        blobs = await blob_target(args, workdir)
        base = await baseline(sandbox_url, args.documents, args.concurrency)
        received = await stats(sandbox_url, reset=True)
        if received["documents"] != args.documents:
            raise SystemExit(f"baseline: the sandbox holds {received}")
        rate = await forward(hub, blobs, sandbox_url, args.documents, args.concurrency, args.batch)
        await blobs.aclose()
        received = await stats(sandbox_url)
        if received["documents"] != args.documents or received["duplicates"]:
            raise SystemExit(f"worker: the sandbox holds {received}")
        await engine.dispose()  # type: ignore[attr-defined]
    finally:
        sandbox.terminate()
        sandbox.wait(10)
        if azurite is not None:
            azurite.terminate()
            azurite.wait(10)
    database = "postgresql" if url.startswith("postgresql") else "sqlite"
    store = "_azure" if args.blob_url else ""
    print(
        json.dumps(
            {
                "metric": f"forwarding_rate_{database}{store}",
                "value": round(rate, 1),
                "unit": "documents/s",
                "baseline": round(base, 1),
                "ratio": round(rate / base, 2),
                "documents": args.documents,
                "concurrency": args.concurrency,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--batch", type=int, default=128, help="deliveries claimed at once")
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    parser.add_argument(
        "--blob-url",
        help="the blob store the worker reads: a RELAIS_BLOB_URL, or `azurite` to start the "
        "emulator (default: the local folder)",
    )
    parser.add_argument(
        "--connection-string",
        default=os.environ.get("RELAIS_BLOB_CONNECTION_STRING", ""),
        help="for azure:// (default: RELAIS_BLOB_CONNECTION_STRING)",
    )
    args = parser.parse_args()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
