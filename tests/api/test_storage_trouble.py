"""A document folder that cannot take files (not a folder, full, read-only) and a database locked
by another writer: a 503 with a clear message and ``Retry-After`` in the REST API and the panel,
nothing stored (no document without its file), and ``/healthz`` saying which part failed."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from hub.identity import Actor
from hub.services import Hub
from hub.settings import Settings
from hub.tokens import create_token
from relais.app import build_app
from storage.db import Sessions
from storage.models import Document, DocumentVersion, Folder
from tests import scenes
from tests.admin.conftest import csrf_of, sign_in_demo, visible
from tests.api.test_rest import PDF, _form, _problem
from tests.scenes import Office

Client = TestClient[Any, Any]
# SQLite's write lock is the point; PostgreSQL's writers wait for row locks instead.
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
STORAGE_MESSAGE = "the server's document folder cannot be written"


def _unwritable(settings: Settings) -> None:
    """After the server started (it checks the folder at start and refuses a broken one), the
    data folder's path becomes a regular file: every write under it fails (ENOTDIR), even as
    root, where permission bits stop nothing."""
    shutil.rmtree(settings.data_dir, ignore_errors=True)
    settings.data_dir.parent.mkdir(parents=True, exist_ok=True)
    settings.data_dir.write_text("not a folder")


@contextlib.contextmanager
def _tmpfs(where: Path, options: str) -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


async def _token(hub: Hub, sessions: Sessions, office: Office) -> str:
    actor: Actor = await scenes.actor(sessions, office.firm, office.admin)
    return (await create_token(hub, actor, "Scanner")).secret


async def _nothing_stored(sessions: Sessions) -> None:
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Document)) == 0
        assert await session.scalar(select(func.count()).select_from(DocumentVersion)) == 0


async def _upload(client: Client, token: str, code: str, data: bytes = PDF) -> Any:
    return await client.post(
        f"/api/v1/dossiers/{code}/documents",
        data=_form("facture.pdf", data, "Achats"),
        headers={"Authorization": f"Bearer {token}"},
    )


# --------------------------------------------------------------------------- REST and /healthz


async def test_an_unwritable_document_folder_is_a_503_problem_and_healthz_says_so(
    aiohttp_client: Any, settings: Settings, office: Office, hub: Hub, sessions: Sessions
) -> None:
    client: Client = await aiohttp_client(build_app(settings))
    _unwritable(settings)
    token = await _token(hub, sessions, office)
    response = await _upload(client, token, office.dossier.code)
    problem = await _problem(response, 503)
    assert problem["code"] == "error.storage_unavailable"
    assert STORAGE_MESSAGE in problem["detail"] and "Nothing was stored" in problem["detail"]
    assert int(response.headers["Retry-After"]) > 0
    await _nothing_stored(sessions)

    health = await client.get("/healthz")
    assert health.status == 503
    body = await health.json()
    assert body["status"] == "unavailable"
    assert [p["check"] for p in body["problems"]] == ["documents"]
    assert "document folder cannot be written" in body["problems"][0]["detail"]


async def test_healthz_is_ok_when_documents_can_be_written_and_leaves_nothing_behind(
    aiohttp_client: Any, settings: Settings
) -> None:
    client: Client = await aiohttp_client(build_app(settings))
    response = await client.get("/healthz")
    assert response.status == 200
    assert (await response.json())["status"] == "ok"
    assert [p for p in (settings.data_dir / "blobs").iterdir()] == []


async def test_healthz_names_the_database_when_it_does_not_answer(
    aiohttp_client: Any, settings: Settings
) -> None:
    app = build_app(settings)
    client: Client = await aiohttp_client(app)
    from relais.keys import ENGINE

    # The database goes away under a running server.
    await app[ENGINE].dispose()
    app[ENGINE].pool._creator = _refuse
    response = await client.get("/healthz")
    assert response.status == 503
    body = await response.json()
    assert [p["check"] for p in body["problems"]] == ["database"]


def _refuse(*_: Any) -> Any:
    raise ConnectionRefusedError("the database server is gone")


@pytest.mark.parametrize(("options", "errno_name"), [("size=64k", "full"), ("ro", "read-only")])
async def test_a_full_or_read_only_disk_is_a_503_and_nothing_is_stored(
    aiohttp_client: Any,
    settings: Settings,
    office: Office,
    hub: Hub,
    sessions: Sessions,
    tmp_path: Path,
    options: str,
    errno_name: str,
) -> None:
    # Mounted writable: the server checks the folder at start and would refuse a read-only one;
    # the disk turns read-only under the running server.
    with _tmpfs(tmp_path / "disk", "size=64k" if options == "ro" else options) as disk:
        small = settings.model_copy(update={"data_dir": disk})
        client: Client = await aiohttp_client(build_app(small))
        if options == "ro":
            subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)  # noqa: ASYNC221
        token = await _token(hub, sessions, office)
        # Larger than the whole 64 KiB disk; on the read-only one any file is.
        response = await _upload(client, token, office.dossier.code, PDF + b"0" * 200_000)
        problem = await _problem(response, 503)
        assert problem["code"] == "error.storage_unavailable", errno_name
        await _nothing_stored(sessions)
        health = await client.get("/healthz")
        assert health.status == (503 if options == "ro" else 200)
        await client.close()


# --------------------------------------------------------------------------- a locked SQLite


@contextlib.contextmanager
def _locked(database_url: str) -> Iterator[None]:
    """Another process's write transaction holding SQLite's write lock."""
    path = make_url(database_url).database
    assert path
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        other.rollback()
        other.close()


@SQLITE_ONLY
async def test_a_locked_sqlite_is_a_503_with_retry_after_in_the_api(
    aiohttp_client: Any, settings: Settings, office: Office, hub: Hub, sessions: Sessions
) -> None:
    token = await _token(hub, sessions, office)
    quick = settings.model_copy(update={"database_busy_timeout": 0.2})
    client: Client = await aiohttp_client(build_app(quick))
    with _locked(settings.database_url):
        response = await _upload(client, token, office.dossier.code)
        problem = await _problem(response, 503)
        assert problem["code"] == "error.database_busy"
        assert response.headers["Retry-After"] == "5"
    await _nothing_stored(sessions)
    # Once the other writer is done, the same request goes through.
    assert (await _upload(client, token, office.dossier.code)).status == 201


@SQLITE_ONLY
async def test_a_locked_sqlite_is_a_503_page_with_retry_after_in_the_panel(
    aiohttp_client: Any, settings: Settings, demo: Any, sessions: Sessions
) -> None:
    quick = settings.model_copy(update={"database_busy_timeout": 0.2})
    client: Client = await aiohttp_client(build_app(quick))
    await sign_in_demo(client)
    page = await (await client.get("/admin/folders")).text()
    async with sessions() as session:
        before = await session.scalar(select(func.count()).select_from(Folder))
    with _locked(settings.database_url):
        response = await client.post(
            "/admin/folders",
            data={"csrf_token": csrf_of(page), "name": "Banque"},
            allow_redirects=False,
        )
        assert response.status == 503
        assert response.headers["Retry-After"] == "5"
        text = visible(await response.text())
        assert "base de données est occupée" in text or "database is busy" in text
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Folder)) == before


# --------------------------------------------------------------------------- the panel's upload


async def test_an_unwritable_document_folder_is_a_503_page_on_the_panel_upload(
    aiohttp_client: Any, settings: Settings, demo: Any, sessions: Sessions
) -> None:
    client: Client = await aiohttp_client(build_app(settings))
    _unwritable(settings)
    await sign_in_demo(client)
    async with sessions() as session:
        code = await session.scalar(select(Document.id).limit(1))
        assert code is None
        from storage.models import Dossier

        dossier = await session.scalar(select(Dossier.code).order_by(Dossier.id).limit(1))
    page = await (await client.get(f"/admin/dossiers/{dossier}/documents")).text()
    from aiohttp import FormData

    form = FormData()
    form.add_field("csrf_token", csrf_of(page))
    form.add_field("folder", "Achats")
    form.add_field("files", PDF, filename="facture.pdf", content_type="application/pdf")
    response = await client.post(f"/admin/dossiers/{dossier}/documents", data=form)
    assert response.status == 503
    assert int(response.headers["Retry-After"]) > 0
    text = visible(await response.text())
    assert "dossier des documents du serveur" in text or STORAGE_MESSAGE in text
    await _nothing_stored(sessions)
