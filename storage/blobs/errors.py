"""What a blob store raises, whichever the backend."""

from __future__ import annotations


class BlobNotFound(LookupError):
    """No file is stored under this digest."""


class BlobStoreUnavailable(OSError):
    """The store could not be reached or answered with a passing fault (an OSError, as a full
    disk is: whoever handles a failed write handles both)."""


class BlobStoreMisconfigured(Exception):
    """The store's address or credentials cannot work: said at start, in one sentence."""
