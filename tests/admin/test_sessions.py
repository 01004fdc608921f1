"""Panel sessions end on the server: at sign-out (even for a copy of the cookie), after the idle
timeout and after their lifetime; and every response carries the security headers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from pydantic import ValidationError
from sqlalchemy import select

from hub.settings import Settings
from relais.app import build_app
from storage.models import PanelSession, StaffUser
from tests.admin.conftest import CLAIRE, JAMES, Client, csrf_of, sign_in_demo, visible

HSTS = "max-age=31536000; includeSubDomains"


class Clock:
    """The panel's clock, moved by the test instead of waiting."""

    def __init__(self) -> None:
        self.at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def clocked(aiohttp_client: Any, settings: Settings, demo: Any, clock: Clock) -> Client:
    result: Client = await aiohttp_client(build_app(settings, now=clock))
    return result


def session_cookie(client: Client) -> str:
    cookies = client.session.cookie_jar.filter_cookies(client.make_url("/admin/"))
    assert "relais_admin" in cookies
    return cookies["relais_admin"].value


async def as_someone_else(client: Client, cookie: str, path: str, **kwargs: Any) -> Any:
    """A request from another browser that holds only a copy of ``cookie``."""
    async with (
        aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as browser,
        browser.request(
            kwargs.pop("method", "GET"),
            client.make_url(path),
            headers={"Cookie": f"relais_admin={cookie}"},
            **kwargs,
        ) as response,
    ):
        await response.read()
        return response


async def test_a_cookie_copied_before_sign_out_is_refused_after_it(client: Client) -> None:
    await sign_in_demo(client, CLAIRE)
    page = await (await client.get("/admin/dashboard")).text()
    copied = session_cookie(client)
    # The copy works while the session lives.
    response = await as_someone_else(client, copied, "/admin/applications")
    assert response.status == 200
    assert "Claire Durand" in visible(await response.text())

    response = await client.post("/admin/logout", data={"csrf_token": csrf_of(page)})
    assert "Vous êtes déconnecté." in visible(await response.text())

    response = await as_someone_else(client, copied, "/admin/applications", allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"] == "/admin/login?next=/admin/applications"
    response = await as_someone_else(client, copied, "/admin/applications")
    assert response.url.path == "/admin/login"
    text = visible(await response.text())
    assert "Se connecter avec Microsoft" in text
    assert "Se déconnecter" not in text
    # A form posted with the copy and its token changes nothing: back to the sign-in page.
    response = await as_someone_else(
        client,
        copied,
        "/admin/dashboard/notices",
        method="POST",
        data={"csrf_token": csrf_of(page), "failure_notices": "off"},
        allow_redirects=False,
    )
    assert response.status == 302
    assert response.headers["Location"] == "/admin/login"


async def test_an_idle_session_expires_after_thirty_minutes(
    clocked: Client, clock: Clock, sessions: Any
) -> None:
    await sign_in_demo(clocked, CLAIRE)
    clock.advance(minutes=29)
    response = await clocked.get("/admin/applications", allow_redirects=False)
    assert response.status == 200
    # Every request restarts the count: 31 minutes after sign-in is 2 minutes idle.
    clock.advance(minutes=2)
    assert (await clocked.get("/admin/applications", allow_redirects=False)).status == 200

    clock.advance(minutes=31)
    response = await clocked.get("/admin/contacts", allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"] == "/admin/login?next=/admin/contacts"
    page = visible(await (await clocked.get(response.headers["Location"])).text())
    assert "Votre session a expiré : reconnectez-vous pour continuer." in page
    # Signing in again goes back where they were.
    after = await sign_in_demo(clocked, CLAIRE, "/admin/contacts")
    assert "Interlocuteurs" in visible(after)
    assert "Votre session a expiré" not in visible(after)


async def test_the_expired_message_is_in_english_for_an_english_session(
    clocked: Client, clock: Clock
) -> None:
    await sign_in_demo(clocked, JAMES)
    clock.advance(minutes=31)
    response = await clocked.get("/admin/applications")
    assert response.url.path == "/admin/login"
    assert "Your session has expired: sign in again to go on." in visible(await response.text())


async def test_a_form_posted_after_expiry_keeps_its_csrf_check_and_changes_nothing(
    clocked: Client, clock: Clock, sessions: Any
) -> None:
    page = await sign_in_demo(clocked, CLAIRE, "/admin/dashboard")
    clock.advance(minutes=45)
    # Without the token: refused as before, whatever the session's state.
    response = await clocked.post("/admin/dashboard/notices", data={"failure_notices": "off"})
    assert response.status == 403
    # With it: sent to sign in again, told why; the choice is not saved.
    response = await clocked.post(
        "/admin/dashboard/notices",
        data={"csrf_token": csrf_of(page), "failure_notices": "off"},
    )
    assert response.status == 200
    assert response.url.path == "/admin/login"
    assert "Votre session a expiré" in visible(await response.text())
    async with sessions() as session:
        choice = await session.scalar(
            select(StaffUser.failure_notices).where(StaffUser.entra_object_id == CLAIRE)
        )
    assert choice == "immediate"


async def test_an_active_session_ends_after_eight_hours(
    clocked: Client, clock: Clock, settings: Settings
) -> None:
    assert settings.session_max_age == 8 * 3600
    await sign_in_demo(clocked, CLAIRE)
    for _ in range(19):  # a request every 25 minutes: never idle, 7 h 55 in all
        clock.advance(minutes=25)
        assert (await clocked.get("/admin/applications", allow_redirects=False)).status == 200
    clock.advance(minutes=6)
    response = await clocked.get("/admin/applications")
    assert response.url.path == "/admin/login"
    assert "Votre session a expiré" in visible(await response.text())


async def test_last_seen_is_written_at_most_once_a_minute(
    clocked: Client, clock: Clock, sessions: Any
) -> None:
    await sign_in_demo(clocked, CLAIRE)
    signed_in_at = clock()

    async def last_seen() -> datetime:
        async with sessions() as session:
            seen = await session.scalar(select(PanelSession.last_seen_at))
        assert seen is not None
        return seen

    clock.advance(seconds=30)
    await clocked.get("/admin/applications")
    assert await last_seen() == signed_in_at
    clock.advance(seconds=31)
    await clocked.get("/admin/applications")
    assert await last_seen() == signed_in_at + timedelta(seconds=61)


@pytest.mark.parametrize("seconds", [0, 59])
def test_an_idle_timeout_under_a_minute_is_refused(seconds: int) -> None:
    with pytest.raises(ValidationError, match="session_idle_timeout"):
        Settings(_env_file=None, session_idle_timeout=seconds)


# --------------------------------------------------------------------------- headers


@pytest.fixture
async def production(aiohttp_client: Any, settings: Settings, demo: Any) -> Client:
    result: Client = await aiohttp_client(build_app(settings.model_copy(update={"demo": False})))
    return result


@pytest.mark.parametrize(
    "path", ["/admin/login", "/healthz", "/admin/static/admin.css", "/nowhere"]
)
async def test_hsts_outside_demo_mode(production: Client, path: str) -> None:
    response = await production.get(path, allow_redirects=False)
    assert response.headers.get("Strict-Transport-Security") == HSTS
    assert response.headers.get("X-Content-Type-Options") == "nosniff"


async def test_no_hsts_in_demo_mode(client: Client) -> None:
    # The demo serves plain HTTP on localhost: HSTS there would lock the browser out of it.
    for path in ("/admin/login", "/healthz"):
        response = await client.get(path)
        assert "Strict-Transport-Security" not in response.headers


async def test_nosniff_on_every_kind_of_response(client: Client) -> None:
    await sign_in_demo(client, CLAIRE)
    answers = {
        "an HTML page": await client.get("/admin/applications"),
        "a CSV download": await client.get("/admin/imports/staff/template.csv"),
        "a static file": await client.get("/admin/static/admin.css"),
        "the health check (JSON)": await client.get("/healthz"),
        "an API problem (JSON)": await client.get("/api/v1/dossiers/DOS001/documents"),
        "a panel 404": await client.get("/admin/nowhere"),
        "a 404 outside the faces": await client.get("/nowhere"),
        "the bot endpoint": await client.post(
            "/api/messages", data=b"not json", headers={"Content-Type": "application/json"}
        ),
    }
    assert answers["an HTML page"].content_type == "text/html"
    assert answers["a CSV download"].content_type == "text/csv"
    assert answers["a static file"].content_type == "text/css"
    assert answers["the health check (JSON)"].content_type == "application/json"
    assert answers["an API problem (JSON)"].content_type == "application/problem+json"
    assert answers["a panel 404"].status == answers["a 404 outside the faces"].status == 404
    assert answers["the bot endpoint"].status < 500
    missing = [
        what
        for what, response in answers.items()
        if response.headers.get("X-Content-Type-Options") != "nosniff"
    ]
    assert missing == []
