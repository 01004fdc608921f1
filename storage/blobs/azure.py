"""The Azure Blob Storage backend: one container, one block blob per content, named by its SHA-256.

Every process that receives or sends documents, on any machine, reads and writes the same
container, so a worker finds what another server stored. Writes are conditional (``overwrite=
False``, i.e. ``If-None-Match: *``): the same content stored twice, or by two processes at once,
is written once and both succeed. The connection string's key and the identity's tokens stay
inside the SDK: no message built here quotes them.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator
from typing import Any

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.storage.blob import ContentSettings
from azure.storage.blob.aio import ContainerClient, ExponentialRetry

from storage.blobs.errors import BlobNotFound, BlobStoreMisconfigured, BlobStoreUnavailable
from storage.blobs.local import digest_name

# Reads come in pieces of this size (the first one too), so a stream holds one piece at a time.
CHUNK = 4 * 1024 * 1024
# The worker retries passing faults on its own schedule; the SDK's default (15 s, then 45 s…)
# would hold a delivery, or an upload, for minutes. One quick retry covers a dropped connection.
_RETRY: dict[str, Any] = {
    "initial_backoff": 1,
    "increment_base": 2,
    "retry_total": 1,
    "random_jitter_range": 1,
}
_CLIENT: dict[str, Any] = {
    "max_single_get_size": CHUNK,
    "max_chunk_get_size": CHUNK,
    "connection_timeout": 10,
}


class AzureBlobStore:
    def __init__(self, container: ContainerClient, credential: Any = None) -> None:
        self._container = container
        self._credential = credential

    @classmethod
    def from_connection_string(cls, connection_string: str, container: str) -> AzureBlobStore:
        try:
            client = ContainerClient.from_connection_string(
                connection_string, container, retry_policy=ExponentialRetry(**_RETRY), **_CLIENT
            )
        except ValueError:
            # The SDK's message may quote the string, key included.
            raise BlobStoreMisconfigured(
                "RELAIS_BLOB_CONNECTION_STRING is not a storage connection string "
                "(DefaultEndpointsProtocol=https;AccountName=…;AccountKey=…;…)"
            ) from None
        return cls(client)

    @classmethod
    def with_identity(cls, account_url: str, container: str) -> AzureBlobStore:
        """Tokens from the process's Entra identity: a managed identity on Azure, a developer's
        ``az login`` on their machine (DefaultAzureCredential)."""
        from azure.identity.aio import DefaultAzureCredential

        credential = DefaultAzureCredential()
        client = ContainerClient(
            account_url,
            container,
            credential=credential,
            retry_policy=ExponentialRetry(**_RETRY),
            **_CLIENT,
        )
        return cls(client, credential)

    def describe(self) -> str:
        return (
            f"the Azure container {self._container.container_name} of "
            f"{self._container.primary_hostname}"
        )

    async def check(self) -> None:
        """The container is reachable with these credentials; created when missing."""
        try:
            try:
                # At start a failure is said at once rather than after the retries.
                await self._container.get_container_properties(retry_total=0)
            except ResourceNotFoundError:
                # Another process may have created it meanwhile.
                with contextlib.suppress(ResourceExistsError):
                    await self._container.create_container()
        except AzureError as error:
            raise BlobStoreMisconfigured(self._refusal(error)) from None

    def _refusal(self, error: AzureError) -> str:
        where = self.describe()
        refused = _status(error) in (401, 403)
        if self._credential is not None and (
            refused or isinstance(error, ClientAuthenticationError)
        ):
            if not refused:  # no token at all: the storage account was never asked
                return (
                    f"{where}: this process has no Entra identity to sign in with (a managed "
                    "identity on Azure, `az login` on a developer's machine)"
                )
            return (
                f"{where} refused this process's identity ({_code(error)}): give it the role "
                "Storage Blob Data Contributor on the container or its account"
            )
        if refused or isinstance(error, ClientAuthenticationError):
            return (
                f"{where} refused the credentials ({_code(error)}): check the account key in "
                "RELAIS_BLOB_CONNECTION_STRING"
            )
        if isinstance(error, HttpResponseError) and _status(error) is not None:
            return f"{where} answered {_status(error)} ({_code(error)})"
        # Connection refused, name not resolved, TLS refused…
        return f"{where} cannot be reached ({_first_line(error)})"

    async def store(self, data: bytes) -> tuple[str, int]:
        sha256 = hashlib.sha256(data).hexdigest()
        blob = self._container.get_blob_client(sha256)
        try:
            await blob.upload_blob(
                data,
                length=len(data),
                overwrite=False,
                content_settings=ContentSettings(content_type="application/octet-stream"),
            )
        except (ResourceExistsError, ResourceModifiedError):
            # The same name is the same content: someone stored it first (412 when two
            # conditional writes of it cross).
            pass
        except AzureError as error:
            raise _unavailable(self.describe(), "store", error) from None
        return sha256, len(data)

    async def fetch(self, sha256: str, size: int | None = None) -> bytes:
        blob = self._container.get_blob_client(digest_name(sha256))
        try:
            download = await blob.download_blob()
            if size is not None and download.size != size:
                raise BlobNotFound(f"{sha256} holds {download.size} bytes, not {size}")
            return await download.readall()
        except ResourceNotFoundError:
            raise BlobNotFound(sha256) from None
        except AzureError as error:
            raise _unavailable(self.describe(), "read", error) from None

    async def stream(self, sha256: str) -> AsyncIterator[bytes]:
        blob = self._container.get_blob_client(digest_name(sha256))
        try:
            download = await blob.download_blob()
            async for chunk in download.chunks():
                yield chunk
        except ResourceNotFoundError:
            raise BlobNotFound(sha256) from None
        except AzureError as error:
            raise _unavailable(self.describe(), "read", error) from None

    async def contains(self, sha256: str) -> bool:
        try:
            return bool(await self._container.get_blob_client(digest_name(sha256)).exists())
        except AzureError as error:
            raise _unavailable(self.describe(), "look up", error) from None

    async def probe(self) -> None:
        # Reading the container's properties proves it is reachable with these credentials;
        # writes are content-addressed, so there is no harmless name to write to.
        try:
            await self._container.get_container_properties(retry_total=0)
        except AzureError as error:
            raise _unavailable(self.describe(), "reach", error) from None

    async def aclose(self) -> None:
        await self._container.close()
        if self._credential is not None:
            await self._credential.close()


def _status(error: AzureError) -> int | None:
    return getattr(error, "status_code", None)


def _code(error: AzureError) -> str:
    code = getattr(error, "error_code", None)
    code = getattr(code, "value", code)  # StorageErrorCode is an enum of the service's codes
    return str(code or _status(error) or type(error).__name__)


def _first_line(error: AzureError) -> str:
    return (str(error.message or error).strip().splitlines() or [""])[0][:200]


def _unavailable(where: str, action: str, error: AzureError) -> BlobStoreUnavailable:
    detail = _code(error) if isinstance(error, HttpResponseError) else type(error).__name__
    return BlobStoreUnavailable(f"{where}: could not {action} a blob ({detail})")
