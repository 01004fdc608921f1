"""The privacy and terms pages the Teams manifest links to are readable without signing in."""

from __future__ import annotations

from typing import Any

import pytest

from hub.settings import Settings
from manifest.build import render_manifest
from relais.app import build_app
from tests.admin.conftest import visible


@pytest.mark.parametrize(
    ("path", "language", "title"),
    [
        ("/admin/privacy", "fr", "Confidentialité"),
        ("/admin/privacy", "en", "Privacy"),
        ("/admin/terms", "fr", "Conditions d'utilisation"),
        ("/admin/terms", "en", "Terms of use"),
    ],
)
async def test_legal_pages_are_public_and_translated(
    settings: Settings, aiohttp_client: Any, path: str, language: str, title: str
) -> None:
    client = await aiohttp_client(build_app(settings))
    response = await client.get(path, headers={"Accept-Language": language}, allow_redirects=False)
    assert response.status == 200
    text = visible(await response.text())
    assert f"{title} · Relais" in text or title in text
    assert "accounting firm" in text or "cabinet comptable" in text


def test_the_manifest_links_to_the_served_pages() -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        bot_app_id="3f2a8c1e-1b2c-4d5e-8f90-0123456789ab",
        base_url="https://relais.cabinet-durand.fr",
    )
    developer = render_manifest(settings)["developer"]
    assert developer["privacyUrl"] == "https://relais.cabinet-durand.fr/admin/privacy"
    assert developer["termsOfUseUrl"] == "https://relais.cabinet-durand.fr/admin/terms"
