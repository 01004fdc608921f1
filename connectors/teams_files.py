"""Files people send to the bot in Teams: the download of a file attachment's link.

Teams does not put the file in the activity: it stores it in the sender's OneDrive and gives a
short-lived, pre-authorised ``downloadUrl`` (no bot token is sent with it). :class:`TeamsFiles`
fetches it through one ``httpx.AsyncClient``, injected (built once when the bot starts, closed at
shutdown), streaming and bounded by ``max_size``. Links are https only, unless ``allow_http``
(the demo's local fakes serve plain http). Every refusal is a :class:`DownloadRefused` carrying
the message key to show and its values; the link itself (its query string is a credential) is
never logged.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
DOWNLOAD_TIMEOUT = 60.0


class DownloadRefused(Exception):
    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


def download_client() -> httpx.AsyncClient:
    """The client :class:`TeamsFiles` is given: redirects followed (OneDrive answers with one),
    a generous timeout for large files."""
    return httpx.AsyncClient(timeout=DOWNLOAD_TIMEOUT, follow_redirects=True)


class TeamsFiles:
    def __init__(
        self, client: httpx.AsyncClient, *, max_size: int, allow_http: bool = False
    ) -> None:
        self.client = client
        self.max_size = max_size
        self.allow_http = allow_http

    async def download(self, link: str) -> bytes:
        """The file's bytes. Raises :class:`DownloadRefused` (``documents.download_failed`` or
        ``documents.too_large`` with its ``limit``) for a link that is not https, an answer other
        than 200, a transport failure, or a file over ``max_size``."""
        url = httpx.URL(link)
        if url.scheme != "https" and not (self.allow_http and url.scheme == "http"):
            raise DownloadRefused("documents.download_failed")
        try:
            async with self.client.stream("GET", url) as response:
                if response.status_code != 200:
                    log.info("file download answered %s", response.status_code)
                    raise DownloadRefused("documents.download_failed")
                return await self._read(response)
        except httpx.HTTPError as error:
            log.info("file download failed: %s", type(error).__name__)
            raise DownloadRefused("documents.download_failed") from None

    async def _read(self, response: httpx.Response) -> bytes:
        announced = response.headers.get("Content-Length", "")
        if announced.isdigit() and int(announced) > self.max_size:
            raise DownloadRefused("documents.too_large", limit=self.max_size)
        size = 0
        parts: list[bytes] = []
        async for chunk in response.aiter_bytes(CHUNK):
            size += len(chunk)
            if size > self.max_size:
                raise DownloadRefused("documents.too_large", limit=self.max_size)
            parts.append(chunk)
        return b"".join(parts)
