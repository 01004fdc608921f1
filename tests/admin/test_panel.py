"""The panel as a person meets it: sign-in, layout, navigation, languages, CSRF, errors."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import update

from admin.render import NAV
from hub.errors import PermissionDenied
from hub.settings import Settings
from relais.app import build_app
from storage.models import StaffUser
from tests.admin.conftest import CLAIRE, JAMES, NAV_LABELS, Client, csrf_of, html_lang, visible

NAV_FR, NAV_EN = NAV_LABELS["fr"], NAV_LABELS["en"]


async def test_login_page_lists_demo_staff_with_their_role(client: Client) -> None:
    response = await client.get("/admin/login")
    assert response.status == 200
    text = visible(await response.text())
    assert "Se connecter avec Microsoft" in text
    assert "Claire Durand Administrateur" in text
    assert "Marc Lefèvre Collaborateur · Gestionnaire des droits" in text
    assert "James Walker Collaborateur" in text


async def test_demo_sign_in_as_admin_shows_layout_navigation_and_name(
    client: Client, signed_in: Any
) -> None:
    page = await signed_in(CLAIRE)
    text = visible(page)
    assert "Claire Durand" in text
    assert "Cabinet Durand & Associés" in text
    assert "Administrateur" in text
    for label in NAV_FR:
        assert label in text
    assert "Se déconnecter" in text
    # Home goes to Applications, marked as the current page.
    assert 'href="/admin/applications" aria-current="page"' in page
    home = await client.get("/admin/", allow_redirects=False)
    assert home.status == 302
    assert home.headers["Location"] == "/admin/applications"


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("item", NAV, ids=[i.name for i in NAV])
async def test_every_navigation_page_renders_in_both_languages(
    client: Client, signed_in: Any, item: Any, lang: str
) -> None:
    page = await signed_in(CLAIRE)
    switched = await client.post(
        "/admin/language", data={"csrf_token": csrf_of(page), "lang": lang, "next": item.path}
    )
    assert switched.status == 200
    assert switched.url.path == item.path
    page = await switched.text()
    assert html_lang(page) == lang
    text = visible(page)
    labels = NAV_FR if lang == "fr" else NAV_EN
    title = labels[[i.name for i in NAV].index(item.name)]
    assert f"{title} · Relais" in page  # the <title>
    assert all(label in text for label in labels)
    assert f'href="{item.path}" aria-current="page"' in page
    # The other language's navigation is not shown anywhere on the page.
    other = NAV_EN if lang == "fr" else NAV_FR
    assert not any(re.search(rf"\b{label}\b", text) for label in set(other) - set(labels))


async def test_language_defaults_to_the_staff_members_locale(
    client: Client, signed_in: Any
) -> None:
    page = await signed_in(JAMES)
    assert html_lang(page) == "en"
    assert "Sign out" in visible(page)


async def test_language_choice_before_sign_in_is_kept(client: Client, signed_in: Any) -> None:
    page = await (await client.get("/admin/login")).text()
    response = await client.post(
        "/admin/language", data={"csrf_token": csrf_of(page), "lang": "en", "next": "/admin/login"}
    )
    assert "Sign in with Microsoft" in visible(await response.text())
    page = await signed_in(CLAIRE)  # Claire's locale is French, but she chose English
    assert html_lang(page) == "en"


async def test_unauthenticated_pages_redirect_to_login_and_back(
    client: Client, signed_in: Any
) -> None:
    for item in NAV:
        response = await client.get(item.path, allow_redirects=False)
        assert response.status == 302
        assert response.headers["Location"].startswith("/admin/login?next=")
    response = await client.get("/admin/dossiers?page=2", allow_redirects=False)
    location = urlsplit(response.headers["Location"])
    assert location.path == "/admin/login"
    assert parse_qs(location.query) == {"next": ["/admin/dossiers?page=2"]}
    # The sign-in form carries it, and signing in lands there.
    login = await (await client.get(response.headers["Location"])).text()
    assert 'name="next" value="/admin/dossiers?page=2"' in login
    response = await client.post(
        "/admin/login/demo",
        data={"csrf_token": csrf_of(login), "object_id": CLAIRE, "next": "/admin/dossiers?page=2"},
    )
    assert response.url.path_qs == "/admin/dossiers?page=2"
    assert "Dossiers" in visible(await response.text())


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/admin",
        "/\\evil.example",
        "/admin\\@evil.example",
        "javascript:alert(1)",
        "/other",
        "/administrator",
    ],
)
async def test_next_never_leaves_the_panel(client: Client, target: str) -> None:
    page = await (await client.get("/admin/login", params={"next": target})).text()
    assert 'name="next" value="/admin/applications"' in page
    response = await client.post(
        "/admin/login/demo",
        data={"csrf_token": csrf_of(page), "object_id": CLAIRE, "next": target},
        allow_redirects=False,
    )
    assert response.status == 302
    assert response.headers["Location"] == "/admin/applications"


async def test_post_without_csrf_is_refused_and_changes_nothing(
    client: Client, signed_in: Any
) -> None:
    page = await signed_in(CLAIRE)
    for data in ({"lang": "en"}, {"lang": "en", "csrf_token": "forged"}):
        response = await client.post("/admin/language", data=data)
        assert response.status == 403
        text = visible(await response.text())
        assert "Ce formulaire a expiré" in text
        assert "Rechargez la page et réessayez" in text
    response = await client.post("/admin/logout", data={})
    assert response.status == 403
    # Still French, still signed in.
    after = await client.get("/admin/applications")
    assert after.status == 200
    assert html_lang(await after.text()) == "fr"
    assert "Claire Durand" in visible(await after.text())
    assert csrf_of(await after.text()) == csrf_of(page)


async def test_demo_login_without_csrf_does_not_sign_in(client: Client) -> None:
    response = await client.post("/admin/login/demo", data={"object_id": CLAIRE})
    assert response.status == 403
    response = await client.get("/admin/applications", allow_redirects=False)
    assert response.status == 302


async def test_csrf_token_of_another_session_is_refused(
    client: Client, aiohttp_client: Any, settings: Settings
) -> None:
    page = await (await client.get("/admin/login")).text()
    other: Client = await aiohttp_client(build_app(settings))
    await other.get("/admin/login")
    response = await other.post(
        "/admin/login/demo", data={"csrf_token": csrf_of(page), "object_id": CLAIRE}
    )
    assert response.status == 403


async def test_demo_login_is_404_when_demo_is_off(
    aiohttp_client: Any, settings: Settings, demo: Any
) -> None:
    client: Client = await aiohttp_client(build_app(settings.model_copy(update={"demo": False})))
    page = await (await client.get("/admin/login")).text()
    text = visible(page)
    assert "Se connecter avec Microsoft" in text
    assert "Claire Durand" not in text
    assert "/admin/login/demo" not in page
    response = await client.post(
        "/admin/login/demo", data={"csrf_token": csrf_of(page), "object_id": CLAIRE}
    )
    assert response.status == 404
    assert "Page introuvable" in visible(await response.text())


async def test_unknown_demo_person_is_refused_with_a_page(client: Client) -> None:
    page = await (await client.get("/admin/login")).text()
    response = await client.post(
        "/admin/login/demo",
        data={"csrf_token": csrf_of(page), "object_id": "00000000-0000-0000-0000-000000000000"},
    )
    assert response.status == 403
    text = visible(await response.text())
    assert "Accès refusé" in text
    assert "n'est pas reconnu" in text


async def test_logout_clears_the_session(client: Client, signed_in: Any) -> None:
    page = await signed_in(CLAIRE)
    response = await client.post("/admin/logout", data={"csrf_token": csrf_of(page)})
    assert response.status == 200
    assert response.url.path == "/admin/login"
    text = visible(await response.text())
    assert "Vous êtes déconnecté." in text
    assert "Se déconnecter" not in text
    response = await client.get("/admin/applications", allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"].startswith("/admin/login")
    # The old form token died with the session.
    response = await client.post("/admin/logout", data={"csrf_token": csrf_of(page)})
    assert response.status == 403


async def test_a_deactivated_person_is_signed_out(
    client: Client, signed_in: Any, sessions: Any
) -> None:
    await signed_in(CLAIRE)
    async with sessions() as session, session.begin():
        await session.execute(
            update(StaffUser).where(StaffUser.entra_object_id == CLAIRE).values(active=False)
        )
    response = await client.get("/admin/applications", allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"].startswith("/admin/login")


def _cookie_header(response: Any) -> str:
    headers = [
        h for h in response.headers.getall("Set-Cookie", []) if h.startswith("relais_admin=")
    ]
    assert headers, "no session cookie was set"
    return headers[-1]


async def test_session_cookie_flags(client: Client, settings: Settings) -> None:
    page = await (await client.get("/admin/login")).text()
    response = await client.post(
        "/admin/login/demo",
        data={"csrf_token": csrf_of(page), "object_id": CLAIRE},
        allow_redirects=False,
    )
    cookie = _cookie_header(response)
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Path=/admin" in cookie
    assert f"Max-Age={settings.session_max_age}" in cookie
    assert "Secure" not in cookie  # demo mode serves plain http on localhost
    # Encrypted: the value does not show what it holds.
    assert "firm_id" not in cookie
    assert "csrf" not in cookie


async def test_session_cookie_is_secure_outside_demo(
    aiohttp_client: Any, settings: Settings
) -> None:
    client: Client = await aiohttp_client(build_app(settings.model_copy(update={"demo": False})))
    response = await client.get("/admin/login")
    cookie = _cookie_header(response)
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


async def test_unknown_page_is_a_404_in_the_layout(client: Client, signed_in: Any) -> None:
    page = await signed_in(JAMES)
    response = await client.get("/admin/nowhere")
    assert response.status == 404
    page = await response.text()
    assert html_lang(page) == "en"
    text = visible(page)
    assert "Page not found" in text
    assert "James Walker" in text
    assert "Portfolio" in text


async def test_errors_from_hub_become_a_page(
    client: Client, signed_in: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = await signed_in(CLAIRE)
    await client.post("/admin/logout", data={"csrf_token": csrf_of(page)})

    async def refuse(sessions: Any) -> list[Any]:
        raise PermissionDenied("not for you")

    monkeypatch.setattr("admin.auth.demo_choices", refuse)
    response = await client.get("/admin/login")
    assert response.status == 403
    text = visible(await response.text())
    assert "Accès refusé" in text
    assert "Vous n'avez pas le droit de faire cela" in text


async def test_an_unexpected_error_is_an_apology_without_a_stack_trace(
    client: Client, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def crash(sessions: Any) -> list[Any]:
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr("admin.auth.demo_choices", crash)
    response = await client.get("/admin/login", headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert response.status == 500
    page = await response.text()
    assert html_lang(page) == "en"
    assert "Something went wrong" in visible(page)
    assert "hunter2" not in page
    assert "Traceback" not in page
    assert "hunter2" in caplog.text  # logged for the operator


async def test_static_css_is_served_without_signing_in(client: Client) -> None:
    response = await client.get("/admin/static/admin.css")
    assert response.status == 200
    assert ".sidebar" in await response.text()


async def test_pages_declare_their_language_and_label_their_forms(
    client: Client, signed_in: Any
) -> None:
    page = await signed_in(CLAIRE)
    assert '<html lang="fr">' in page
    assert 'aria-label="Navigation principale"' in page
    assert '<legend class="visually-hidden">Langue</legend>' in page
    assert 'href="#main"' in page
