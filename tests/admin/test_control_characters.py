"""NUL and the other invisible control characters, wherever a person's text reaches the panel:
every route of its route table, with them in the path, in every query parameter the panel reads
and in every form field it posts. Never a 5xx (PostgreSQL cannot even store NUL); where the
route exists, a 400 page saying which field holds the character."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from aiohttp import web
from sqlalchemy import func, select

from storage.db import Sessions
from storage.models import Folder
from tests.admin.conftest import Client, csrf_of, sign_in_demo, visible

ROOT = Path(__file__).resolve().parents[2]
NUL = "a\x00b"
# The refusal, in English or in French (the page follows the person's language).
REFUSAL = re.compile(r"invisible control character|caractère de contrôle invisible")


def _names_field(text: str, name: str) -> bool:
    return f"“{name}”" in text or f"« {name} »" in text


def _names() -> list[str]:
    """Every query and form name the panel reads or its templates send."""
    names: set[str] = set()
    for path in sorted((ROOT / "admin").rglob("*.py")):
        names |= set(re.findall(r"""\.get(?:all)?\(\s*["']([a-z_]+)["']""", path.read_text()))
    for path in sorted((ROOT / "admin" / "templates").glob("*.html")):
        names |= set(re.findall(r'name="([a-z_]+)"', path.read_text()))
    return sorted(names - {"csrf_token"})


def _panel(client: Client) -> web.Application:
    for resource in client.app.router.resources():
        if isinstance(resource, web.PrefixedSubAppResource) and resource.canonical == "/admin":
            app: web.Application = resource._app
            return app
    raise AssertionError("no /admin sub-application")


# Microsoft sign-in is not configured in these tests: a 503 page by design, NUL or not; signing
# out would end the visit (every later form a 403).
UNCONFIGURED = {"login_microsoft", "logout"}


def _routes(client: Client, method: str) -> Iterator[web.AbstractResource]:
    for route in _panel(client).router.routes():
        if route.method == method and route.resource is not None:
            if route.resource.name in UNCONFIGURED or route.resource.canonical.endswith("/static"):
                continue
            yield route.resource


def _url(resource: web.AbstractResource, value: str) -> str:
    """The resource's address with every path parameter set to ``value`` (numbers where the
    route wants digits, so that a NUL in the path reaches a string parameter)."""
    info = resource.get_info()
    if "formatter" not in info:
        return resource.canonical
    params = {}
    for name, pattern in re.findall(r"\{(\w+)(?::([^}]+))?\}", info["formatter"] + ""):
        params[name] = "1" if pattern == r"\d+" else value
    for name, pattern in re.findall(r"\(\?P<(\w+)>([^)]+)\)", info["pattern"].pattern):
        params[name] = "1" if pattern == r"\d+" else value
    # The sub-application's resources already carry its /admin prefix.
    return str(resource.url_for(**params))


BOUNDARY = "nul-boundary-0412"


def _files_form(token: str) -> bytes:
    """A multipart form whose file names hold control characters (encoded, as RFC 5987 allows:
    a client library refuses to put a raw one in a header)."""
    parts = [
        ('name="csrf_token"', token.encode()),
        ("name=\"file\"; filename*=UTF-8''dossiers%01.csv", b"code;name\n"),
        ("name=\"files\"; filename*=UTF-8''facture%00.pdf", b"%PDF-1.7\n"),
    ]
    body = b"".join(
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; {header}\r\n\r\n".encode()
        + data
        + b"\r\n"
        for header, data in parts
    )
    return body + f"--{BOUNDARY}--\r\n".encode()


def _assert_answered(status: int, text: str, where: str) -> None:
    assert status < 500, f"{status} on {where}"
    if status == 400:
        assert REFUSAL.search(visible(text)), where


async def test_no_panel_route_answers_5xx_to_a_nul_in_its_path_or_query(
    client: Client, sessions: Sessions
) -> None:
    await sign_in_demo(client)
    query = {name: NUL for name in _names()}
    visited = refused = 0
    for resource in _routes(client, "GET"):
        for url, params in ((_url(resource, NUL), None), (_url(resource, "DOS001"), query)):
            response = await client.get(url, params=params, allow_redirects=False)
            _assert_answered(response.status, await response.text(), f"GET {url}")
            visited += 1
        # The query refusal names the parameter, for every route that exists.
        if response.status != 404:
            assert response.status == 400, f"GET {url}: {response.status}"
            refused += 1
    assert visited > 60 and refused > 25
    # Still signed in and the panel still works: nothing was half-done.
    home = await client.get("/admin/")
    assert home.status == 200


async def test_no_panel_form_answers_5xx_to_a_nul_in_a_field_or_file_name(
    client: Client, sessions: Sessions
) -> None:
    page = await sign_in_demo(client)
    token = csrf_of(page)
    async with sessions() as session:
        folders_before = await session.scalar(select(func.count()).select_from(Folder))
    posted = refused = 0
    for resource in _routes(client, "POST"):
        url = _url(resource, "DOS001")
        for name in _names():
            response = await client.post(
                url, data={"csrf_token": token, name: NUL}, allow_redirects=False
            )
            _assert_answered(response.status, await response.text(), f"POST {url} {name}")
            posted += 1
            if response.status == 400:
                assert _names_field(visible(await response.text()), name), f"POST {url} {name}"
                refused += 1
            else:
                # Accepted (signed in again, language changed…): start again from a fresh page.
                token = csrf_of(await sign_in_demo(client))
        response = await client.post(
            url,
            data=_files_form(token),
            headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
            allow_redirects=False,
        )
        _assert_answered(response.status, await response.text(), f"POST {url} (files)")
    assert posted > 100 and refused > 100
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Folder)) == folders_before


async def test_a_nul_in_a_search_box_says_which_field_holds_it(client: Client) -> None:
    await sign_in_demo(client)
    response = await client.get("/admin/dossiers", params={"q": "Dur\x00and"})
    assert response.status == 400
    text = visible(await response.text())
    assert REFUSAL.search(text) and _names_field(text, "q")


async def test_tabs_and_line_breaks_are_still_accepted(client: Client) -> None:
    await sign_in_demo(client)
    response = await client.get("/admin/dossiers", params={"q": "Dur\tand\r\n"})
    assert response.status == 200


async def test_a_malformed_form_body_is_a_400_page_not_a_server_error(client: Client) -> None:
    page = await sign_in_demo(client)
    for content_type, body in (
        ("multipart/form-data", b"--x\r\n\r\n"),  # no boundary
        (f"multipart/form-data; boundary={BOUNDARY}", b"not multipart at all\r\n"),
        (f"multipart/form-data; boundary={BOUNDARY}", _files_form(csrf_of(page))[:-30]),
    ):
        response = await client.post(
            "/admin/folders",
            data=body,
            headers={"Content-Type": content_type, "X-CSRF-Token": csrf_of(page)},
        )
        assert response.status == 400, content_type
        assert "Traceback" not in await response.text()
