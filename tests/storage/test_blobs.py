"""The blob store's behaviour, the same on both backends: the local folder and an Azure Blob
Storage container (Azurite, a real local server speaking Azure's protocol)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from azure.storage.blob.aio import ContainerClient
from pydantic import SecretStr

from hub.errors import ConfigurationError
from hub.settings import Settings
from relais.services import check_blobs
from storage.blobs import BlobNotFound, Blobs, BlobStore, parse_blob_url
from storage.blobs.azure import AzureBlobStore
from tests.conftest import Azurite


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def container_name() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


class Backend:
    """A store under test, and a way to see what it holds other than through itself."""

    def __init__(self, store: Blobs, names: object) -> None:
        self.store = store
        self._names = names

    async def names(self) -> list[str]:
        return await self._names()  # type: ignore[operator, no-any-return]


@pytest.fixture(params=["local", "azure"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "local":
        local = BlobStore(tmp_path / "blobs")

        async def files() -> list[str]:
            return sorted(p.name for p in (tmp_path / "blobs").rglob("*") if p.is_file())

        await local.check()
        yield Backend(local, files)
        return
    azurite: Azurite = request.getfixturevalue("azurite")
    name = container_name()
    store = AzureBlobStore.from_connection_string(azurite.connection_string(), name)
    await store.check()
    raw = ContainerClient.from_connection_string(azurite.connection_string(), name)

    async def blobs() -> list[str]:
        return sorted([n async for n in raw.list_blob_names()])

    try:
        yield Backend(store, blobs)
    finally:
        await store.aclose()
        await raw.close()


async def test_what_is_stored_reads_back_whole_and_streamed(backend: Backend) -> None:
    data = b"%PDF-1.7 facture 0412" * 100
    digest, size = await backend.store.store(data)
    assert (digest, size) == (sha(data), len(data))
    assert await backend.store.contains(digest)
    assert await backend.store.fetch(digest, size) == data
    assert await backend.store.fetch(digest) == data
    assert b"".join([chunk async for chunk in backend.store.stream(digest)]) == data
    assert await backend.names() == [digest]


async def test_storing_the_same_bytes_twice_keeps_one_copy(backend: Backend) -> None:
    first = await backend.store.store(b"same bytes")
    second = await backend.store.store(b"same bytes")
    assert first == second
    assert await backend.names() == [first[0]]


async def test_two_processes_storing_the_same_content_at_once_both_succeed(
    backend: Backend,
) -> None:
    data = os.urandom(300_000)
    results = await asyncio.gather(*(backend.store.store(data) for _ in range(8)))
    assert set(results) == {(sha(data), len(data))}
    assert await backend.names() == [sha(data)]
    assert await backend.store.fetch(sha(data)) == data


async def test_a_missing_blob_is_blob_not_found(backend: Backend) -> None:
    missing = sha(b"never stored")
    assert not await backend.store.contains(missing)
    with pytest.raises(BlobNotFound):
        await backend.store.fetch(missing, 12)
    with pytest.raises(BlobNotFound):
        async for _ in backend.store.stream(missing):
            pass


async def test_a_20_mb_blob_streams_in_pieces_of_at_most_4_mb(backend: Backend) -> None:
    data = os.urandom(20 * 1024 * 1024)
    digest, _ = await backend.store.store(data)
    del data
    hasher, pieces, largest = hashlib.sha256(), 0, 0
    async for chunk in backend.store.stream(digest):
        hasher.update(chunk)
        pieces += 1
        largest = max(largest, len(chunk))
    assert hasher.hexdigest() == digest
    assert pieces >= 5 and largest <= 4 * 1024 * 1024


async def test_anything_but_a_digest_is_refused_as_a_name(backend: Backend) -> None:
    for name in ("../../etc/passwd", "ABC", sha(b"x").upper()):
        with pytest.raises(ValueError, match="not a SHA-256"):
            await backend.store.fetch(name)


async def test_the_start_up_check_creates_a_missing_container(azurite: Azurite) -> None:
    name = container_name()
    store = AzureBlobStore.from_connection_string(azurite.connection_string(), name)
    try:
        await store.check()
        await store.check()  # already there: fine too
        digest, _ = await store.store(b"first document")
        assert await store.fetch(digest) == b"first document"
    finally:
        await store.aclose()


# --------------------------------------------------------------------------- configuration


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """No database here: the start-up check of the blob store alone."""
    return Settings(_env_file=None, data_dir=tmp_path / "data")  # type: ignore[call-arg]


def azure_settings(
    settings: Settings, azurite: Azurite, *, key: str | None = None, **more: object
) -> Settings:
    connection = azurite.connection_string(key) if key else azurite.connection_string()
    return settings.model_copy(
        update={
            "blob_url": f"azure://{container_name()}",
            "blob_connection_string": SecretStr(connection),
            **more,
        }
    )


async def test_a_wrong_account_key_stops_the_start_with_a_clear_message(
    settings: Settings, azurite: Azurite
) -> None:
    from hub.documents import blob_store

    wrong = "d3Jvbmcta2V5LW5vdC10aGUtYWNjb3VudHMtb25lLXRoYXQtaXMtNjQtYnl0ZXMtbG9uZy4uLi4uLg=="
    store = blob_store(azure_settings(settings, azurite, key=wrong))
    try:
        with pytest.raises(ConfigurationError) as refused:
            await check_blobs(store)
    finally:
        await store.aclose()
    message = str(refused.value)
    assert "refused the credentials" in message and "RELAIS_BLOB_CONNECTION_STRING" in message
    assert wrong not in message and "Traceback" not in message


async def test_an_unreachable_account_stops_the_start_with_a_clear_message(
    settings: Settings,
) -> None:
    from hub.documents import blob_store

    closed = f"http://127.0.0.1:{_closed_port()}/{'devstoreaccount1'}"
    connection = (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        f"AccountKey=a2V5;BlobEndpoint={closed};"
    )
    store = blob_store(
        settings.model_copy(
            update={
                "blob_url": "azure://documents",
                "blob_connection_string": SecretStr(connection),
            }
        )
    )
    try:
        with pytest.raises(ConfigurationError, match="cannot be reached") as refused:
            await check_blobs(store)
    finally:
        await store.aclose()
    assert "a2V5" not in str(refused.value)


def _closed_port() -> int:
    from tests.conftest import _free_port

    return _free_port()


def test_an_azure_container_without_a_connection_string_is_refused(settings: Settings) -> None:
    from hub.documents import blob_store

    with pytest.raises(ConfigurationError, match="RELAIS_BLOB_CONNECTION_STRING is empty"):
        blob_store(settings.model_copy(update={"blob_url": "azure://documents"}))


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("s3://bucket", "not a blob store address"),
        ("azure://Documents", "not a container name"),
        ("azure://documents/sub", "RELAIS_BLOB_CONNECTION_STRING"),
        ("azure://documents?AccountKey=abc", "RELAIS_BLOB_CONNECTION_STRING"),
        ("https://acct.blob.core.windows.net/documents?sig=abc", "carries no credentials"),
        ("http://acct.blob.core.windows.net/documents", "https"),
        ("https://acct.blob.core.windows.net/", "CONTAINER"),
    ],
)
def test_a_blob_address_of_the_wrong_form_is_refused_with_its_reason(url: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as refused:
        Settings(_env_file=None, blob_url=url)  # type: ignore[call-arg]
    assert "sig=abc" not in str(refused.value) and "AccountKey=abc" not in str(refused.value)


def test_the_blob_addresses_people_write_are_understood(tmp_path: Path) -> None:
    assert parse_blob_url("", tmp_path).folder == tmp_path / "blobs"
    assert parse_blob_url("file:///srv/relais/blobs", tmp_path).folder == Path("/srv/relais/blobs")
    container = parse_blob_url("azure://relais-documents", tmp_path)
    assert (container.kind, container.container, container.account_url) == (
        "azure",
        "relais-documents",
        "",
    )
    identity = parse_blob_url("https://acct.blob.core.windows.net/relais-documents", tmp_path)
    assert (identity.container, identity.account_url) == (
        "relais-documents",
        "https://acct.blob.core.windows.net",
    )


async def test_an_account_url_without_an_identity_stops_the_start_with_a_clear_message(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hub.documents import blob_store

    for name in list(os.environ):
        if name.startswith(("AZURE_", "IDENTITY_", "MSI_")):
            monkeypatch.delenv(name)
    url = f"https://127.0.0.1:{_closed_port()}/documents"
    store = blob_store(settings.model_copy(update={"blob_url": url}))
    try:
        with pytest.raises(ConfigurationError) as refused:
            await check_blobs(store)
    finally:
        await store.aclose()
    message = str(refused.value)
    assert message.startswith("RELAIS_BLOB_URL: the Azure container documents")
    # A developer signed in with the Azure CLI has an identity: then the closed port speaks.
    assert "no Entra identity" in message or "cannot be reached" in message
