"""The local folder backend: content-addressed files on local disk, named by their SHA-256.

The same bytes are stored once however many versions or firms point at them, a write can never
leave a half-written file under a final name (temporary file, then ``os.replace``), and two
processes storing the same content at once both succeed. Files live under two levels of shard
folders (``ab/cd/abcd…``) so that no directory grows to hundreds of thousands of entries.

Besides the asynchronous interface of :class:`storage.blobs.Blobs` it keeps its synchronous one
(``put``, ``read``, ``open``, ``exists``, ``digests``), for scripts, tests and
``relais blobs migrate``.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import BinaryIO

from storage.blobs.errors import BlobNotFound, BlobStoreMisconfigured

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# A thread hop costs more than reading a small file (most scans are well under a megabyte):
# small files are read on the event loop, larger ones off it.
SMALL_FILE = 256 * 1024
CHUNK = 1024 * 1024


def digest_name(sha256: str) -> str:
    """``sha256`` itself, once known to be 64 hex characters: a digest becomes a path or a blob
    name, and anything else could walk out of the store."""
    if not _SHA256.match(sha256):
        raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
    return sha256


class BlobStore:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        digest_name(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    # ------------------------------------------------------------------ synchronous

    def put(self, data: bytes) -> tuple[str, int]:
        """Store ``data``; returns ``(sha256, size)``. Storing the same bytes again is a no-op."""
        sha256 = hashlib.sha256(data).hexdigest()
        target = self.path(sha256)
        if target.exists():
            return sha256, len(data)
        target.parent.mkdir(parents=True, exist_ok=True)
        # The temporary file sits in the target's folder so os.replace stays on one filesystem,
        # which is what makes it atomic.
        fd, temporary = tempfile.mkstemp(prefix=".incoming-", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return sha256, len(data)

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).exists()

    def open(self, sha256: str) -> BinaryIO:
        try:
            return self.path(sha256).open("rb")
        except FileNotFoundError as error:
            raise BlobNotFound(sha256) from error

    def read(self, sha256: str) -> bytes:
        with self.open(sha256) as handle:
            return handle.read()

    def digests(self) -> Iterator[str]:
        """Every digest stored, in name order (what ``relais blobs migrate`` walks)."""
        if not self.root.is_dir():
            return
        for first in sorted(self.root.iterdir()):
            if not first.is_dir():
                continue
            for second in sorted(first.iterdir()):
                if not second.is_dir():
                    continue
                for path in sorted(second.iterdir()):
                    if path.is_file() and _SHA256.match(path.name):
                        yield path.name

    # ------------------------------------------------------------------ the Blobs interface

    def describe(self) -> str:
        return f"the folder {self.root}"

    async def check(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise BlobStoreMisconfigured(
                f"the blob folder {self.root} cannot be created: {error.strerror or error}"
            ) from None
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise BlobStoreMisconfigured(f"the blob folder {self.root} is not writable")

    async def store(self, data: bytes) -> tuple[str, int]:
        return await asyncio.to_thread(self.put, data)

    async def fetch(self, sha256: str, size: int | None = None) -> bytes:
        if size is not None and size <= SMALL_FILE:
            return self.read(sha256)
        return await asyncio.to_thread(self.read, sha256)

    async def stream(self, sha256: str) -> AsyncIterator[bytes]:
        handle = await asyncio.to_thread(self.open, sha256)
        try:
            while chunk := await asyncio.to_thread(handle.read, CHUNK):
                yield chunk
        finally:
            handle.close()

    async def contains(self, sha256: str) -> bool:
        return self.exists(sha256)

    async def probe(self) -> None:
        await asyncio.to_thread(self._probe)

    def _probe(self) -> None:
        """Write, flush and delete a small file in the folder: ``mkdir`` alone passes on a full
        disk, and ``os.access`` on a read-only mount as root."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".probe-", dir=self.root)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(b"relais health probe\n")
                handle.flush()
                os.fsync(handle.fileno())
        finally:
            Path(name).unlink(missing_ok=True)

    async def aclose(self) -> None:
        return None
