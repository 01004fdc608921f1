"""The panel's links are built from route names: every route has one, no page spells a path."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import make_mocked_request

import admin
from admin.render import url

ADMIN = Path(admin.__file__).resolve().parent
# Paths that are contracts with the outside, spelled out on purpose: the session cookie's path and
# the allowed "next" targets (security.py), and the reply addresses registered with Microsoft.
SPELLED_OUT = {"security.py", "entra.py", "tenant.py"}


async def test_every_route_of_the_panel_has_a_name(hub: Any) -> None:
    app = admin.create_app(hub)
    unnamed = [
        f"{route.method} {route.resource.canonical}"
        for route in app.router.routes()
        if route.resource is None or not route.resource.name
    ]
    assert unnamed == []


def test_no_template_writes_a_panel_path_by_hand() -> None:
    written = {
        path.name: re.findall(r"/admin/?[\w./{}-]*", path.read_text("utf-8"))
        for path in (ADMIN / "templates").glob("*.html")
    }
    assert {name: found for name, found in written.items() if found} == {}


def test_no_handler_redirects_to_a_path_written_by_hand() -> None:
    spelled = re.compile(r"""HTTP(?:SeeOther|Found)\(\s*f?["']/admin""")
    found = [
        path.name
        for path in ADMIN.glob("*.py")
        if path.name not in SPELLED_OUT and spelled.search(path.read_text("utf-8"))
    ]
    assert found == []


async def test_url_builds_paths_queries_and_fragments(hub: Any) -> None:
    panel = admin.create_app(hub)
    web.Application().add_subapp("/admin", panel)  # as relais.app mounts it
    request = make_mocked_request("GET", "/admin/folders", app=panel)
    documents = url(
        request, "dossier_documents", code="DUP 01", query={"folder": "Paie/2026", "page": None}
    )
    assert documents == "/admin/dossiers/DUP%2001/documents?folder=Paie%2F2026"
    folders = url(request, "folders", query={"parent": 3}, fragment="add")
    assert folders == "/admin/folders?parent=3#add"
    assert url(request, "static", filename="admin.css") == "/admin/static/admin.css"
