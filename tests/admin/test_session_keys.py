"""The panel's session cookie across a key rotation: a cookie made under the old key is accepted
while that key is still configured after the new one, and no longer once it is removed."""

from __future__ import annotations

from typing import Any

from aiohttp import ClientResponse
from pydantic import SecretStr

from admin.security import COOKIE_NAME
from hub.settings import Settings
from relais.app import build_app
from tests.admin.conftest import CLAIRE, Client, sign_in_demo, visible

KEY_A = "9JWlAQI0io8J_uqhgjX834oNQkzlUikSfOxpvfqcmxQ="
KEY_B = "6S4NViF5SuhAkEGEmtf3Rv__WORpHaqrzuUpBgRIZ6c="


def keyed(settings: Settings, keys: str) -> Settings:
    return settings.model_copy(update={"encryption_key": SecretStr(keys)})


async def test_a_session_made_under_the_old_key_survives_until_the_old_key_is_removed(
    aiohttp_client: Any, settings: Settings, demo: Any
) -> None:
    before: Client = await aiohttp_client(build_app(keyed(settings, KEY_A)))
    await sign_in_demo(before, CLAIRE)
    cookie = before.session.cookie_jar.filter_cookies(before.make_url("/admin/"))[COOKIE_NAME]

    async def applications_page(keys: str) -> ClientResponse:
        after: Client = await aiohttp_client(build_app(keyed(settings, keys)))
        response: ClientResponse = await after.get(
            "/admin/applications",
            headers={"Cookie": f"{COOKIE_NAME}={cookie.value}"},
            allow_redirects=False,
        )
        return response

    kept = await applications_page(f"{KEY_B},{KEY_A}")
    assert kept.status == 200
    assert "Claire Durand" in visible(await kept.text())

    removed = await applications_page(KEY_B)
    assert removed.status == 302
    assert removed.headers["Location"].startswith("/admin/login")
