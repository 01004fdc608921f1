"""``relais blobs migrate``: the local folder copied into the Azure container (Azurite), resumable,
and every copy checked by its hash."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from pathlib import Path

import pytest

from relais.cli import main
from storage.blobs import BlobStore
from storage.blobs.azure import AzureBlobStore
from tests.conftest import Azurite


@pytest.fixture
def configured(
    azurite: Azurite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[BlobStore, str]:
    """50 documents in the local folder, and the environment pointing at a new container."""
    container = f"m-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("RELAIS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RELAIS_BLOB_URL", f"azure://{container}")
    monkeypatch.setenv("RELAIS_BLOB_CONNECTION_STRING", azurite.connection_string())
    monkeypatch.setenv("RELAIS_DATABASE_URL", f"sqlite:///{tmp_path / 'unused.db'}")
    local = BlobStore(tmp_path / "data" / "blobs")
    for n in range(50):
        local.put(f"%PDF-1.7 document {n}\n".encode() * (n + 1))
    return local, container


def in_container(azurite: Azurite, container: str) -> set[str]:
    async def names() -> set[str]:
        store = AzureBlobStore.from_connection_string(azurite.connection_string(), container)
        try:
            return {n async for n in store._container.list_blob_names()}
        finally:
            await store.aclose()

    return asyncio.run(names())


def test_the_local_blobs_are_copied_once_and_a_second_run_copies_nothing(
    configured: tuple[BlobStore, str], azurite: Azurite, capsys: pytest.CaptureFixture[str]
) -> None:
    local, container = configured
    main(["blobs", "migrate"])
    first = capsys.readouterr().out
    assert "50 blobs: 50 copied and verified, 0 already there, 0 not copied" in first
    assert in_container(azurite, container) == set(local.digests())

    main(["blobs", "migrate"])
    second = capsys.readouterr().out
    assert "50 blobs: 0 copied and verified, 50 already there, 0 not copied" in second


def test_a_damaged_local_file_is_reported_not_copied_and_the_command_fails(
    configured: tuple[BlobStore, str], azurite: Azurite, capsys: pytest.CaptureFixture[str]
) -> None:
    local, container = configured
    damaged = sorted(local.digests())[7]
    local.path(damaged).write_bytes(b"%PDF-1.7 bits flipped on disk")
    with pytest.raises(SystemExit) as exit:
        main(["blobs", "migrate"])
    assert exit.value.code == 1
    out = capsys.readouterr().out
    assert f"{damaged}: NOT COPIED: the local file does not match its SHA-256" in out
    assert "50 blobs: 49 copied and verified, 0 already there, 1 not copied" in out
    held = in_container(azurite, container)
    assert damaged not in held and len(held) == 49
    assert all(hashlib.sha256(local.read(d)).hexdigest() == d for d in held)


def test_without_an_object_store_configured_it_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RELAIS_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("RELAIS_BLOB_URL", raising=False)
    with pytest.raises(SystemExit) as exit:
        main(["blobs", "migrate"])
    assert exit.value.code == 2
    assert "RELAIS_BLOB_URL names no object store" in capsys.readouterr().err


def test_a_wrong_account_key_stops_the_worker_with_one_sentence(
    azurite: Azurite,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    wrong = "d3Jvbmcta2V5LW5vdC10aGUtYWNjb3VudHMtb25lLXRoYXQtaXMtNjQtYnl0ZXMtbG9uZy4uLi4uLg=="
    monkeypatch.setenv("RELAIS_DATABASE_URL", database_url)
    monkeypatch.setenv("RELAIS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("RELAIS_ENCRYPTION_KEY", "Qm6jkIrV5m0Cq0lAeg3yFYkxPq6w7CKb3Z1Sx0oZ4Ps=")
    monkeypatch.setenv("RELAIS_BLOB_URL", "azure://documents")
    monkeypatch.setenv("RELAIS_BLOB_CONNECTION_STRING", azurite.connection_string(wrong))
    with pytest.raises(SystemExit) as exit:
        main(["worker"])
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("relais: RELAIS_BLOB_URL: the Azure container documents")
    assert "refused the credentials" in err and "Traceback" not in err and wrong not in err
