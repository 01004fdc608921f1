"""Copying the local folder's blobs into another store (``relais blobs migrate``).

Resumable: what the target already holds is skipped, so an interrupted copy is run again. Each
copy is verified by its hash: the local file must hash to its name (a file damaged on disk is
reported, not copied), and what the target gives back must hash to it too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from storage.blobs import Blobs
from storage.blobs.errors import BlobNotFound
from storage.blobs.local import BlobStore


@dataclass
class Migration:
    copied: int = 0
    present: int = 0
    # (digest, what is wrong), for every blob that was not copied
    failed: list[tuple[str, str]] = field(default_factory=list)

    @property
    def seen(self) -> int:
        return self.copied + self.present + len(self.failed)


async def copy_blobs(
    source: BlobStore, target: Blobs, progress: Callable[[Migration, str, str], None]
) -> Migration:
    """Copy every blob of ``source`` missing from ``target``; ``progress(report, digest, what)``
    is told after each one (``what``: ``copied``, ``present`` or the problem)."""
    report = Migration()
    for digest in source.digests():
        try:
            what = await _copy_one(source, target, digest)
        except _NotCopied as problem:
            what = str(problem)
            report.failed.append((digest, what))
        else:
            if what == "copied":
                report.copied += 1
            else:
                report.present += 1
        progress(report, digest, what)
    return report


class _NotCopied(Exception):
    pass


async def _copy_one(source: BlobStore, target: Blobs, digest: str) -> str:
    try:
        if await target.contains(digest):
            return "present"
        data = await source.fetch(digest)
        if hashlib.sha256(data).hexdigest() != digest:
            raise _NotCopied("the local file does not match its SHA-256 (damaged on disk)")
        await target.store(data)
        if hashlib.sha256(await target.fetch(digest, len(data))).hexdigest() != digest:
            raise _NotCopied("what the target gives back does not match its SHA-256")
    except (BlobNotFound, OSError) as error:
        raise _NotCopied(f"{type(error).__name__}: {error}") from None
    return "copied"
