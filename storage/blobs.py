"""The document file store: content-addressed files on local disk, named by their SHA-256.

The same bytes are stored once however many versions or firms point at them, a write can never
leave a half-written file under a final name (temporary file, then ``os.replace``), and two
processes storing the same content at once both succeed. Files live under two levels of shard
folders (``ab/cd/abcd…``) so that no directory grows to hundreds of thousands of entries.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import BinaryIO

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class BlobNotFound(LookupError):
    """No file is stored under this digest."""


class BlobStore:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        # The digest becomes a path: anything but 64 hex characters could walk out of the root.
        if not _SHA256.match(sha256):
            raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

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

    def probe(self) -> None:
        """Write, read back and delete a small file where documents go; raises ``OSError`` when
        the folder cannot take files (full, read-only, not a folder), as a health check."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".probe-", dir=self.root)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(b"relais health probe\n")
                handle.flush()
                os.fsync(handle.fileno())
        finally:
            Path(name).unlink(missing_ok=True)

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
