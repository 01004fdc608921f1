"""The document file store: content-addressed blobs named by their SHA-256, behind one interface.

Two backends, chosen by one address (``RELAIS_BLOB_URL``, :func:`parse_blob_url`):

- the local folder (:class:`~storage.blobs.local.BlobStore`, the embedded default): enough for
  one machine, where the process that receives a document is the one that sends it;
- an Azure Blob Storage container (:class:`~storage.blobs.azure.AzureBlobStore`): every
  ``relais serve`` and ``relais worker``, on any machine, reads what any other one stored.

Both are written once per content (storing the same bytes again, even from two processes at once,
is a success that changes nothing), read whole (bounded by the size the database records) or as
a stream of chunks, and checked at start (:meth:`Blobs.check`) so that a missing container or a
refused key stops ``relais serve`` with a sentence instead of failing the first delivery.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from storage.blobs.errors import BlobNotFound, BlobStoreMisconfigured, BlobStoreUnavailable
from storage.blobs.local import BlobStore, digest_name

__all__ = [
    "BlobNotFound",
    "BlobStore",
    "BlobStoreMisconfigured",
    "BlobStoreUnavailable",
    "Blobs",
    "Location",
    "digest_name",
    "open_blob_store",
    "parse_blob_url",
]


class Blobs(Protocol):
    """What the intake and the delivery worker need of a blob store. A store that cannot be
    reached or written raises :class:`BlobStoreUnavailable` (an ``OSError``, as a full disk)."""

    def describe(self) -> str:
        """Where the blobs are, for people and logs: never a secret."""
        ...

    async def check(self) -> None:
        """Make sure the store can be used (create the folder or the container); raise
        :class:`BlobStoreMisconfigured` when it cannot."""
        ...

    async def store(self, data: bytes) -> tuple[str, int]:
        """Store ``data``; returns ``(sha256, size)``. Storing the same bytes again is a no-op."""
        ...

    async def fetch(self, sha256: str, size: int | None = None) -> bytes:
        """The whole content; ``size`` (what the database recorded) bounds what is read."""
        ...

    def stream(self, sha256: str) -> AsyncIterator[bytes]:
        """The content in chunks, never all of it in memory at once."""
        ...

    async def contains(self, sha256: str) -> bool: ...

    async def probe(self) -> None:
        """Raise ``OSError`` unless a file can be written where documents go now (the health
        check: a full or read-only folder, an unreachable container)."""
        ...

    async def aclose(self) -> None: ...


# A container name as Azure accepts them: 3-63 lower-case letters, digits and single hyphens.
_CONTAINER = re.compile(r"^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Location:
    """Where the blobs are: a local folder, or an Azure container reached by a connection string
    (``account_url`` empty) or by an account URL and Entra identity."""

    kind: str  # "local" or "azure"
    folder: Path | None = None
    container: str = ""
    account_url: str = ""


def parse_blob_url(url: str, data_dir: Path) -> Location:
    """``RELAIS_BLOB_URL`` read: empty is the folder ``<data_dir>/blobs``; ``file:///path`` another
    folder; ``azure://CONTAINER`` a container of the account named by the connection string;
    ``https://ACCOUNT.blob.core.windows.net/CONTAINER`` a container reached with the process's
    Entra identity. Raises ``ValueError`` with the reason."""
    url = url.strip()
    if not url:
        return Location("local", folder=data_dir / "blobs")
    parts = urlsplit(url)
    # What messages quote: never a query (a SAS token) nor a user part (a key).
    shown = f"{parts.scheme}://{parts.hostname or ''}{parts.path}"
    if parts.scheme == "file":
        if not parts.path or parts.netloc not in ("", "localhost"):
            raise ValueError(f"{shown!r}: a folder is written file:///absolute/path")
        return Location("local", folder=Path(parts.path))
    if parts.scheme == "azure":
        if parts.path.strip("/") or parts.query or parts.fragment:
            raise ValueError(
                f"{shown!r}: write azure://CONTAINER and put the connection string in "
                "RELAIS_BLOB_CONNECTION_STRING"
            )
        return Location("azure", container=_container(parts.netloc, shown))
    if parts.scheme == "http":
        raise ValueError(f"{shown!r}: an account URL is https (tokens are never sent in clear)")
    if parts.scheme == "https":
        container = parts.path.strip("/")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ValueError(
                f"an account URL carries no credentials (a SAS or a key): the process's identity "
                f"is used; got {shown}"
            )
        if "/" in container or not container:
            raise ValueError(f"{shown!r}: write https://ACCOUNT.blob.core.windows.net/CONTAINER")
        account_url = f"{parts.scheme}://{parts.netloc}"
        return Location("azure", container=_container(container, shown), account_url=account_url)
    raise ValueError(
        f"{shown!r} is not a blob store address: leave it empty (the data folder), or write "
        "file:///path, azure://CONTAINER or https://ACCOUNT.blob.core.windows.net/CONTAINER"
    )


def _container(name: str, url: str) -> str:
    if not _CONTAINER.match(name):
        raise ValueError(
            f"{url!r}: {name!r} is not a container name (3 to 63 lower-case letters, digits "
            "and single hyphens)"
        )
    return name


def open_blob_store(location: Location, connection_string: str = "") -> Blobs:
    """The store at ``location``; opens no connection until first used."""
    if location.kind == "local":
        assert location.folder is not None
        return BlobStore(location.folder)
    # Imported here: the local default never loads the Azure SDK.
    from storage.blobs.azure import AzureBlobStore

    if location.account_url:
        if connection_string:
            raise BlobStoreMisconfigured(
                "RELAIS_BLOB_CONNECTION_STRING is set but RELAIS_BLOB_URL is an account URL, "
                "which uses the process's Entra identity: write azure://"
                f"{location.container} to use the connection string, or remove it"
            )
        return AzureBlobStore.with_identity(location.account_url, location.container)
    if not connection_string:
        raise BlobStoreMisconfigured(
            f"RELAIS_BLOB_URL is azure://{location.container} but "
            "RELAIS_BLOB_CONNECTION_STRING is empty (the storage account's connection string, "
            "from the portal's Access keys)"
        )
    return AzureBlobStore.from_connection_string(connection_string, location.container)
