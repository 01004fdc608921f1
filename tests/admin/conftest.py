"""Helpers for the panel tests: a client on the real app, reading pages as a person would."""

from __future__ import annotations

import html
import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from hub.settings import Settings
from relais.app import build_app
from relais.demo import DEMO_STAFF
from tests.admin.browser import demo_server

__all__ = ["demo_server"]  # the browser tests' `relais demo` fixture (tests/admin/browser.py)

CLAIRE = DEMO_STAFF[0][0]  # administrator
JAMES = DEMO_STAFF[3][0]  # collaborator, English

# The navigation, as a person reads it, in each language.
NAV_LABELS = {
    "fr": [
        "Applications",
        "Portefeuille",
        "Dossiers",
        "Interlocuteurs",
        "Équipe",
        "Tableau de bord",
        "Journal",
    ],
    "en": ["Applications", "Portfolio", "Dossiers", "Contacts", "Team", "Dashboard", "Audit"],
}

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def visible(page: str) -> str:
    """The text a person sees: no tags, no scripts, entities decoded, spaces collapsed."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    text = html.unescape(re.sub(r"<[^>]+>", " ", page))
    return re.sub(r"\s+", " ", text).strip()


def csrf_of(page: str) -> str:
    match = _CSRF.search(page)
    assert match, "the page has no CSRF field"
    return match.group(1)


def html_lang(page: str) -> str:
    match = re.search(r'<html lang="([a-z]+)"', page)
    assert match
    return match.group(1)


Client = TestClient[Any, Any]


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings, demo: Any) -> Client:
    result: Client = await aiohttp_client(build_app(settings))
    return result


async def sign_in_demo(client: Client, object_id: str = CLAIRE, next_path: str = "") -> str:
    """Sign in through the demo form as a person would; the text of the page landed on."""
    page = await (await client.get("/admin/login")).text()
    response = await client.post(
        "/admin/login/demo",
        data={"csrf_token": csrf_of(page), "object_id": object_id, "next": next_path},
    )
    assert response.status == 200, await response.text()
    return await response.text()


@pytest.fixture
def signed_in(client: Client) -> Callable[..., Awaitable[str]]:
    async def go(object_id: str = CLAIRE, next_path: str = "") -> str:
        return await sign_in_demo(client, object_id, next_path)

    return go
