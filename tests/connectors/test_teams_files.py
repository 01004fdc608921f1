"""Downloading the files people attach in Teams, outside demo mode: only from the hosts Teams
stores files on, over https, through the outbound-address policy, redirects followed by hand to
such hosts only. The "SharePoint" is a local https server with a certificate for SharePoint
names, which a resolver of the test's own points at loopback (allowed, as in a test lab)."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import trustme
from aiohttp import web

from connectors.addresses import AddressPolicy
from connectors.teams_files import MAX_REDIRECTS, DownloadRefused, TeamsFiles, download_client
from tests.connectors.arrange import Names
from tests.fakes.server import ServerThread

SHAREPOINT = "contoso-my.sharepoint.com"
OTHER_SHAREPOINT = "fabrikam.sharepoint.com"
PDF = b"%PDF-1.7\n%%EOF\n"


class SharePoint:
    """``/file`` serves the file; ``/hop/{n}/{host}/{scheme}`` redirects ``n`` times, the last
    time to ``{scheme}://{host}:{port}/file``."""

    def __init__(self, ca: trustme.CA) -> None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert(SHAREPOINT, OTHER_SHAREPOINT, "files.example").configure_cert(context)
        app = web.Application()
        app.router.add_get("/file", self._file)
        app.router.add_get("/hop/{n}/{host}/{scheme}", self._hop)
        self.requests: list[str] = []
        self.server = ServerThread(app, ssl_context=context, name="fake-sharepoint")

    async def _file(self, request: web.Request) -> web.Response:
        self.requests.append(f"{request.host}{request.path}")
        return web.Response(body=PDF, content_type="application/pdf")

    async def _hop(self, request: web.Request) -> web.Response:
        self.requests.append(f"{request.host}{request.path}")
        n, host, scheme = (request.match_info[k] for k in ("n", "host", "scheme"))
        port = self.server.port
        target = (
            f"/hop/{int(n) - 1}/{host}/{scheme}"
            if int(n) > 1
            else f"{scheme}://{host}:{port}/file?tempauth=t"
        )
        raise web.HTTPFound(target)

    def link(self, path: str, host: str = SHAREPOINT) -> str:
        return f"https://{host}:{self.server.port}{path}?tempauth=pre-authorised"


@pytest.fixture
def sharepoint(fake_ca: trustme.CA, trust_fake_ca: Path) -> Iterator[SharePoint]:
    server = SharePoint(fake_ca)
    server.server.start()
    yield server
    server.server.stop()


LAB = Names(**{name: ["127.0.0.1"] for name in (SHAREPOINT, OTHER_SHAREPOINT, "files.example")})


@pytest.fixture
async def files() -> AsyncIterator[TeamsFiles]:
    policy = AddressPolicy.allowing("127.0.0.1", resolve=LAB)
    async with download_client(policy) as client:
        yield TeamsFiles(client, max_size=1024, outbound=policy)


async def test_a_file_on_sharepoint_is_downloaded_through_the_policy(
    sharepoint: SharePoint, files: TeamsFiles
) -> None:
    assert await files.download(sharepoint.link("/file")) == PDF
    assert sharepoint.requests == [f"{SHAREPOINT}:{sharepoint.server.port}/file"]


async def test_redirects_to_teams_hosts_are_followed_a_few_times(
    sharepoint: SharePoint, files: TeamsFiles
) -> None:
    link = sharepoint.link(f"/hop/{MAX_REDIRECTS}/{OTHER_SHAREPOINT}/https")
    assert await files.download(link) == PDF
    assert sharepoint.requests[-1] == f"{OTHER_SHAREPOINT}:{sharepoint.server.port}/file"
    sharepoint.requests.clear()
    with pytest.raises(DownloadRefused):
        await files.download(sharepoint.link(f"/hop/{MAX_REDIRECTS + 1}/{SHAREPOINT}/https"))
    assert len(sharepoint.requests) == MAX_REDIRECTS + 1  # the file itself was never asked


@pytest.mark.parametrize(("host", "scheme"), [("files.example", "https"), (SHAREPOINT, "http")])
async def test_a_redirect_elsewhere_than_a_teams_host_over_https_is_refused(
    sharepoint: SharePoint, files: TeamsFiles, host: str, scheme: str
) -> None:
    with pytest.raises(DownloadRefused) as refused:
        await files.download(sharepoint.link(f"/hop/1/{host}/{scheme}"))
    assert refused.value.key == "documents.download_failed"
    assert [r.rsplit("/", 1)[-1] for r in sharepoint.requests] == [scheme]  # the hop only


@pytest.mark.parametrize(
    "link",
    [
        "https://files.example:{port}/file",
        "https://contoso.sharepoint.com.files.example:{port}/file",
        "https://127.0.0.1:{port}/file",
        "https://169.254.169.254/latest/meta-data/",
        "http://" + SHAREPOINT + ":{port}/file",
        "https://[::1]:{port}/file",
        "not a link",
    ],
)
async def test_links_outside_teams_hosts_are_refused_without_a_request(
    sharepoint: SharePoint, link: str
) -> None:
    policy = AddressPolicy(resolve=LAB)
    async with download_client(policy) as client:
        with pytest.raises(DownloadRefused):
            await TeamsFiles(client, max_size=1024, outbound=policy).download(
                link.format(port=sharepoint.server.port)
            )
    assert sharepoint.requests == []


async def test_a_teams_host_that_resolves_to_an_internal_address_is_refused(
    sharepoint: SharePoint,
) -> None:
    policy = AddressPolicy(resolve=LAB)  # no allow list: loopback is refused, name or not
    async with download_client(policy) as client:
        with pytest.raises(DownloadRefused):
            await TeamsFiles(client, max_size=1024, outbound=policy).download(
                sharepoint.link("/file")
            )
    assert sharepoint.requests == []
