"""Files people send to the bot in Teams: the download of a file attachment's link.

Teams does not put the file in the activity: it stores it in the sender's OneDrive and gives a
short-lived, pre-authorised ``downloadUrl`` (no bot token is sent with it). :class:`TeamsFiles`
fetches it through one ``httpx.AsyncClient``, injected (built once when the bot starts, closed at
shutdown), streaming and bounded by ``max_size``.

A link is only fetched from the hosts Teams puts files on (SharePoint and OneDrive, Teams
itself: :data:`TEAMS_FILE_HOSTS`), over https, through the outbound-address policy's transport
(:func:`download_client`), so that a forged activity cannot make the bot fetch an internal
address. Redirects are followed by hand, at most :data:`MAX_REDIRECTS`, each to an https link on
those hosts again (Graph's ``/content`` answers with one to SharePoint's ``download.aspx``).
``allow_http`` is the demo's switch: its local fakes serve plain http on loopback, any host.

Every refusal is a :class:`DownloadRefused` carrying the message key to show and its values; the
link itself (its query string is a credential) is never logged.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from connectors.addresses import AddressPolicy, VettedTransport

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
DOWNLOAD_TIMEOUT = 60.0
MAX_REDIRECTS = 3
# Where Teams stores the files people attach (their OneDrive, a team's SharePoint site, in each
# Microsoft cloud) and serves inline ones from: a host is one of these or a sub-domain of one.
TEAMS_FILE_HOSTS = (
    "sharepoint.com",
    "sharepoint-df.com",
    "sharepoint.us",
    "sharepoint-mil.us",
    "sharepoint.cn",
    "1drv.com",
    "1drv.ms",
    "onedrive.com",
    "onedrive.live.com",
    "teams.microsoft.com",
    "smba.trafficmanager.net",
)


class DownloadRefused(Exception):
    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


def download_client(outbound: AddressPolicy | None = None) -> httpx.AsyncClient:
    """The client :class:`TeamsFiles` is given: a generous timeout for large files, redirects
    left to :meth:`TeamsFiles.download`, every connection vetted under ``outbound`` (none in
    demo mode)."""
    return httpx.AsyncClient(
        timeout=DOWNLOAD_TIMEOUT,
        follow_redirects=False,
        transport=VettedTransport(outbound) if outbound is not None else None,
    )


class TeamsFiles:
    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        max_size: int,
        allow_http: bool = False,
        outbound: AddressPolicy | None = None,
    ) -> None:
        """``outbound``'s allow list (test labs) also admits its hosts beside Teams' own."""
        self.client = client
        self.max_size = max_size
        self.allow_http = allow_http
        self.outbound = outbound

    async def download(self, link: str) -> bytes:
        """The file's bytes. Raises :class:`DownloadRefused` (``documents.download_failed`` or
        ``documents.too_large`` with its ``limit``) for a link that is not https on a Teams host,
        an answer other than 200 (after redirects to such links), a transport failure, or a file
        over ``max_size``."""
        try:
            url = httpx.URL(link)
            for _ in range(MAX_REDIRECTS + 1):
                self._check(url)
                async with self.client.stream("GET", url) as response:
                    if response.next_request is None:
                        return await self._body(response)
                    url = response.next_request.url
            log.info("file download: more than %d redirects", MAX_REDIRECTS)
        except httpx.HTTPError as error:
            log.info("file download failed: %s", type(error).__name__)
        except httpx.InvalidURL:
            log.info("file download: not a URL")
        raise DownloadRefused("documents.download_failed")

    def _check(self, url: httpx.URL) -> None:
        if self.allow_http and url.scheme in ("http", "https"):
            return
        if url.scheme != "https" or not self._teams_host(url.host):
            log.info(
                "file download from %s://%s refused: not a Teams file host", url.scheme, url.host
            )
            raise DownloadRefused("documents.download_failed")

    def _teams_host(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        if any(host == known or host.endswith(f".{known}") for known in TEAMS_FILE_HOSTS):
            return True
        return self.outbound is not None and self.outbound.exempt(host)

    async def _body(self, response: httpx.Response) -> bytes:
        if response.status_code != 200:
            log.info("file download answered %s", response.status_code)
            raise DownloadRefused("documents.download_failed")
        return await self._read(response)

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
