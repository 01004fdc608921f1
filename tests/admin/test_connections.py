"""The folder tree and the connect wizard in the panel, read as a person reads them: pages in
French and English, the forms and their messages, the template download, the CSV import with
its refused lines, rights (read-only pages, forged posts refused) and firm isolation (404)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import FormData
from sqlalchemy import select

from hub import applications as apps
from hub.applications import Definition
from hub.identity import resolve
from hub.settings import Settings
from relais.demo import DEMO_TENANT_ID
from relais.services import build_services
from storage.models import Connection, Dossier, Firm, Folder, StaffUser
from tests.admin.conftest import CLAIRE, JAMES, Client, csrf_of, visible

SignIn = Callable[..., Awaitable[str]]
OCR = Definition(
    app="ocr-achats",
    api_key_id="KEY-OCR",
    secret="s3cret",
    api_url="https://ocr.example.test/v1",
    sic_code="SIC-75001",
)


async def add_app(settings: Settings, sessions: Any, definition: Definition) -> int:
    hub = build_services(settings, sessions)
    claire = await resolve(sessions, DEMO_TENANT_ID, CLAIRE)
    return (await apps.add_application(hub, claire, definition)).id


@pytest.fixture
async def ocr(settings: Settings, sessions: Any, demo: Any) -> int:
    return await add_app(settings, sessions, OCR)


@pytest.fixture
async def expenses(settings: Settings, sessions: Any, demo: Any) -> int:
    return await add_app(settings, sessions, Definition(app="collecte-notes-de-frais"))


async def folder_id(sessions: Any, path: str) -> int:
    async with sessions() as session:
        found = await session.scalar(select(Folder.id).where(Folder.path == path))
        assert found is not None
        return int(found)


async def codes(sessions: Any, how_many: int) -> list[tuple[int, str, str]]:
    async with sessions() as session:
        rows = await session.execute(
            select(Dossier.id, Dossier.code, Dossier.name).order_by(Dossier.code).limit(how_many)
        )
        return [(i, c, n) for i, c, n in rows]


async def page(client: Client, path: str) -> tuple[int, str]:
    response = await client.get(path)
    return response.status, await response.text()


# --------------------------------------------------------------------------- the folder tree


async def test_the_folder_tree_page_in_french_and_english(
    client: Client, signed_in: SignIn
) -> None:
    await signed_in()
    status, html = await page(client, "/admin/folders")
    assert status == 200
    text = visible(html)
    assert "Arborescence des répertoires" in text
    for name in ("Achats", "Ventes", "Notes de frais", "Administratif", "2025", "2026"):
        assert name in text
    assert "Ajouter un répertoire" in text and "Renommer" in text
    await client.post(
        "/admin/language", data={"csrf_token": csrf_of(html), "lang": "en", "next": "/"}
    )
    english = visible(await (await client.get("/admin/folders")).text())
    assert "Folder tree" in english and "Add a folder" in english


async def test_add_rename_and_delete_folders_with_messages(
    client: Client, signed_in: SignIn, sessions: Any
) -> None:
    html = await signed_in(next_path="/admin/folders")
    token = csrf_of(html)
    response = await client.post(
        "/admin/folders", data={"csrf_token": token, "name": "Banque", "parent": ""}
    )
    assert response.status == 200
    assert "Répertoire Banque ajouté." in visible(await response.text())
    banque = await folder_id(sessions, "Banque")
    response = await client.post(
        "/admin/folders", data={"csrf_token": token, "name": "2026", "parent": str(banque)}
    )
    assert "Répertoire Banque/2026 ajouté." in visible(await response.text())

    # Refusals stay on the page with the reason beside the field.
    for name, message in (
        ("A/B", "ne peut pas contenir « / »"),
        ("", "Donnez un nom au répertoire."),
        ("achats", "Un répertoire « achats » existe déjà à cet emplacement."),
    ):
        response = await client.post("/admin/folders", data={"csrf_token": token, "name": name})
        assert response.status == 400
        assert message in visible(await response.text())

    _status, html = await page(client, f"/admin/folders?rename={banque}")
    assert f'action="/admin/folders/{banque}/rename"' in html
    response = await client.post(
        f"/admin/folders/{banque}/rename", data={"csrf_token": token, "name": "Banques"}
    )
    text = visible(await response.text())
    assert "Banque renommé en Banques ; le chemin de son sous-répertoire a suivi." in text
    assert "Banques/2026" in html or await folder_id(sessions, "Banques/2026")

    _status, html = await page(client, f"/admin/folders/{banque}/delete")
    assert "Supprimer Banques ?" in visible(html)
    assert "et son sous-répertoire seront supprimés" in visible(html)
    response = await client.post(f"/admin/folders/{banque}/delete", data={"csrf_token": token})
    assert "Répertoire Banques et son sous-répertoire supprimés." in visible(await response.text())


async def test_a_used_folder_cannot_be_deleted_and_the_page_says_why(
    client: Client, signed_in: SignIn, sessions: Any, ocr: int
) -> None:
    html = await signed_in()
    achats = await folder_id(sessions, "Achats")
    [(d1, _, _)] = await codes(sessions, 1)
    response = await client.post(
        f"/admin/applications/{ocr}/connect/dossiers",
        data={
            "csrf_token": csrf_of(html),
            "folder": str(achats),
            "shown": str(d1),
            f"auth.{d1}": "1",
            f"value.{d1}": "OCR-1",
            "action": "save",
        },
    )
    assert response.status == 200
    _status, html = await page(client, f"/admin/folders/{achats}/delete")
    text = visible(html)
    assert "Achats ne peut pas être supprimé" in text
    assert "OCR Factures — Achats y est connectée pour 1 dossier" in text
    # A forged post is refused the same way, on the tree page.
    response = await client.post(
        f"/admin/folders/{achats}/delete", data={"csrf_token": csrf_of(html)}
    )
    assert response.status == 409
    assert "Achats ne peut pas être supprimé : 1 connexion(s) l'utilisent" in visible(
        await response.text()
    )
    assert "1 connexion" in visible(await (await client.get("/admin/folders")).text())


# --------------------------------------------------------------------------- the connect wizard


async def test_the_applications_list_links_to_the_wizard_and_the_tree(
    client: Client, signed_in: SignIn, ocr: int
) -> None:
    await signed_in()
    html = await (await client.get("/admin/applications")).text()
    assert f'href="/admin/applications/{ocr}/connect"' in html
    assert 'href="/admin/folders"' in html
    assert "Connecter des dossiers" in visible(html)


async def test_step_one_suggests_achats_and_applies_a_folder_to_connected_dossiers(
    client: Client, signed_in: SignIn, sessions: Any, ocr: int
) -> None:
    await signed_in()
    status, html = await page(client, f"/admin/applications/{ocr}/connect")
    assert status == 200
    text = visible(html)
    assert "Sélection du répertoire à connecter" in text
    assert "Achats" in text and "Par API" in text
    assert "le répertoire Achats est proposé" in text
    achats = await folder_id(sessions, "Achats")
    assert re.search(rf'value="{achats}" required checked', html)
    assert "sous-répertoires" in text

    response = await client.post(
        f"/admin/applications/{ocr}/connect", data={"csrf_token": csrf_of(html)}
    )
    assert response.status == 400
    assert "Choisissez le répertoire à connecter." in visible(await response.text())

    response = await client.post(
        f"/admin/applications/{ocr}/connect",
        data={"csrf_token": csrf_of(html), "folder": str(achats)},
        allow_redirects=False,
    )
    assert response.status == 303
    assert (
        response.headers["Location"]
        == f"/admin/applications/{ocr}/connect/dossiers?folder={achats}"
    )

    [(d1, _c1, _)] = await codes(sessions, 1)
    await client.post(
        f"/admin/applications/{ocr}/connect/dossiers",
        data={
            "csrf_token": csrf_of(html), "folder": str(achats), "shown": str(d1),
            f"auth.{d1}": "1", f"value.{d1}": "OCR-1", "action": "save",
        },
    )  # fmt: skip
    ventes = await folder_id(sessions, "Ventes")
    response = await client.post(
        f"/admin/applications/{ocr}/connect",
        data={"csrf_token": csrf_of(html), "folder": str(ventes), "apply_connected": "1"},
    )
    text = visible(await response.text())
    assert "Répertoire Ventes ajouté au dossier déjà connecté." in text
    assert "Achats" in text and "Ventes" in text  # the row's connected folders


async def test_connect_one_by_one_and_see_a_success_message_per_dossier(
    client: Client, signed_in: SignIn, sessions: Any, ocr: int
) -> None:
    html = await signed_in()
    achats = await folder_id(sessions, "Achats")
    rows = await codes(sessions, 3)
    (d1, c1, n1), (d2, c2, _), (d3, c3, _) = rows
    status, html = await page(
        client, f"/admin/applications/{ocr}/connect/dossiers?folder={achats}&q={c1}"
    )
    assert status == 200
    text = visible(html)
    assert c1 in text and n1 in text and "Non connecté" in text
    assert "Autoriser l'accès" in text and "Code dans l'application" in text
    status, short = await page(
        client, f"/admin/applications/{ocr}/connect/dossiers?folder={achats}&q=ab"
    )
    assert status == 400 and "3" in visible(short)

    form = {
        "csrf_token": csrf_of(html), "folder": str(achats), "shown": f"{d1},{d2},{d3}",
        f"auth.{d1}": "1", f"value.{d1}": "OCR-1",
        f"auth.{d2}": "1", f"value.{d2}": "",
        f"value.{d3}": "OCR-3",
        "action": "save",
    }  # fmt: skip
    response = await client.post(f"/admin/applications/{ocr}/connect/dossiers", data=form)
    assert response.status == 400
    text = visible(await response.text())
    assert "2 lignes sont à corriger : rien n'a été enregistré." in text
    assert "Saisissez le code du dossier dans l'application." in text
    assert "Cochez « Autoriser l'accès » pour connecter ce dossier." in text
    async with sessions() as session:
        assert list(await session.scalars(select(Connection.id))) == []

    form.update({f"value.{d2}": "OCR-2", f"auth.{d3}": "1"})
    response = await client.post(f"/admin/applications/{ocr}/connect/dossiers", data=form)
    assert response.status == 200
    text = visible(await response.text())
    for code, value in ((c1, "OCR-1"), (c2, "OCR-2"), (c3, "OCR-3")):
        assert f"{code} " in text
        assert f"connecté au répertoire Achats avec le code {value}" in text

    connected = visible(
        await (
            await client.get(
                f"/admin/applications/{ocr}/connect/dossiers?folder={achats}&show=connected"
            )
        ).text()
    )
    assert "Connecté" in connected and c3 in connected

    response = await client.post(
        f"/admin/applications/{ocr}/connect/dossiers",
        data={**form, "action": f"disconnect:{d2}"},
    )
    assert f"{c2} " in visible(await response.text())
    assert "déconnecté de l'application OCR Factures — Achats" in visible(await response.text())


async def test_a_generated_collection_address_is_shown_with_a_copy_button(
    client: Client, signed_in: SignIn, sessions: Any, expenses: int
) -> None:
    html = await signed_in()
    frais = await folder_id(sessions, "Notes de frais")
    [(d1, c1, _)] = await codes(sessions, 1)
    _status, html = await page(
        client, f"/admin/applications/{expenses}/connect/dossiers?folder={frais}"
    )
    assert "E-mail de collecte" in visible(html) and "Générer une adresse" in visible(html)
    response = await client.post(
        f"/admin/applications/{expenses}/connect/dossiers",
        data={
            "csrf_token": csrf_of(html), "folder": str(frais), "shown": str(d1),
            f"auth.{d1}": "1", f"generate.{d1}": "1", "action": "save",
        },
    )  # fmt: skip
    html = await response.text()
    text = visible(html)
    assert "adresse de collecte générée" in text
    match = re.search(r"[a-z0-9-]+\.[a-z2-9]{6}@collecte\.localhost", text)
    assert match is not None
    assert f'data-copy="{match.group(0)}"' in html
    assert match.group(0).startswith(re.sub(r"[^a-z0-9]+", "-", c1.lower()).strip("-") + ".")


async def test_the_template_download_and_the_csv_import(
    client: Client, signed_in: SignIn, sessions: Any, ocr: int
) -> None:
    html = await signed_in()
    achats = await folder_id(sessions, "Achats")
    response = await client.get(f"/admin/applications/{ocr}/connect/template.csv")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "relais-connexions-ocr-achats.csv" in response.headers["Content-Disposition"]
    body = (await response.read()).decode("utf-8-sig")
    assert body.splitlines()[-1] == "dossier_code;code_at_application"

    (_, c1, _), (_, c2, _), (_, c3, _) = await codes(sessions, 3)

    def upload(text: str) -> FormData:
        data = FormData()
        data.add_field("csrf_token", csrf_of(html))
        data.add_field("folder", str(achats))
        data.add_field("file", text.encode(), filename="connexions.csv", content_type="text/csv")
        return data

    bad = f"dossier_code;code_at_application\n{c1};A-1\nINCONNU;A-2\n{c1};A-3\n{c3};\n"
    response = await client.post(f"/admin/applications/{ocr}/connect/import", data=upload(bad))
    assert response.status == 400
    text = visible(await response.text())
    assert "Fichier refusé : rien n'a été enregistré" in text
    assert "3 Dossier inconnu : INCONNU." in text
    assert f"4 Le dossier {c1} figure déjà ligne 2." in text
    assert f"5 Code dans l'application manquant pour le dossier {c3}." in text
    async with sessions() as session:
        assert list(await session.scalars(select(Connection.id))) == []

    good = f"dossier_code;code_at_application\n{c1};A-1\n{c2};A-2\n{c3};A-3\n"
    response = await client.post(f"/admin/applications/{ocr}/connect/import", data=upload(good))
    assert response.status == 200
    text = visible(await response.text())
    assert "Fichier importé" in text
    assert "Répertoire Achats : 3 dossier(s) connecté(s), 0 mis à jour, 0 déjà à jour." in text
    assert f"{c2} " in text and "connecté au répertoire Achats avec le code A-2" in text

    response = await client.post(
        f"/admin/applications/{ocr}/connect/import",
        data={"csrf_token": csrf_of(html), "folder": str(achats)},
    )
    assert response.status == 400
    assert "Choisissez un fichier CSV à importer." in visible(await response.text())


# --------------------------------------------------------------------------- rights and firms


async def test_a_collaborator_reads_the_wizard_and_forged_posts_are_refused(
    client: Client, signed_in: SignIn, sessions: Any, ocr: int
) -> None:
    html = await signed_in(JAMES)
    achats = await folder_id(sessions, "Achats")
    [(d1, _, _)] = await codes(sessions, 1)
    status, html = await page(client, "/admin/folders")
    assert status == 200
    assert "Only administrators change the tree." in visible(html)
    assert "Add a folder" not in visible(html)
    status, html = await page(client, f"/admin/applications/{ocr}/connect")
    assert status == 200 and "Only administrators connect dossiers." in visible(html)
    assert 'method="get"' in html
    status, html = await page(client, f"/admin/applications/{ocr}/connect/dossiers?folder={achats}")
    assert status == 200 and "auth." not in html and "Check and import" not in visible(html)
    token = csrf_of(html)
    forged = [
        ("/admin/folders", {"name": "Hack"}),
        (f"/admin/folders/{achats}/rename", {"name": "Hack"}),
        (f"/admin/folders/{achats}/delete", {}),
        (f"/admin/applications/{ocr}/connect", {"folder": str(achats), "apply_connected": "1"}),
        (
            f"/admin/applications/{ocr}/connect/dossiers",
            {"folder": str(achats), "shown": str(d1), f"auth.{d1}": "1", f"value.{d1}": "X"},
        ),
        (
            f"/admin/applications/{ocr}/connect/dossiers",
            {"folder": str(achats), "action": f"disconnect:{d1}"},
        ),
    ]
    for path, data in forged:
        response = await client.post(path, data={"csrf_token": token, **data})
        assert response.status == 403, path
        assert "administrators" in visible(await response.text()).lower()
    data = FormData()
    data.add_field("csrf_token", token)
    data.add_field("folder", str(achats))
    data.add_field("file", b"dossier_code;code_at_application\n", filename="x.csv")
    response = await client.post(f"/admin/applications/{ocr}/connect/import", data=data)
    assert response.status == 403
    # Without the CSRF token, even an administrator's form is refused.
    response = await client.post("/admin/folders", data={"name": "NoToken"})
    assert response.status == 403
    async with sessions() as session:
        assert list(await session.scalars(select(Connection.id))) == []
        assert await session.scalar(select(Folder.id).where(Folder.path == "Hack")) is None


async def test_another_firms_ids_are_not_found_everywhere(
    client: Client, signed_in: SignIn, settings: Settings, sessions: Any, ocr: int
) -> None:
    async with sessions() as session, session.begin():
        firm = Firm(name="Cabinet Autre", tenant_id="other-tenant", sic_codes=["SIC-1"])
        session.add(firm)
        await session.flush()
        session.add(
            StaffUser(
                firm_id=firm.id, entra_object_id="other-admin", email="admin@autre.fr",
                display_name="Autre Admin", role="administrator",
            )
        )  # fmt: skip
        theirs = Folder(firm_id=firm.id, name="Achats", path="Achats")
        their_dossier = Dossier(firm_id=firm.id, code="AUT1", name="Autre SAS")
        session.add_all([theirs, their_dossier])
    hub = build_services(settings, sessions)
    stranger = await resolve(sessions, "other-tenant", "other-admin")
    their_app = await apps.add_application(
        hub, stranger, Definition(**{**OCR.__dict__, "sic_code": ""})
    )
    html = await signed_in()
    token = csrf_of(html)
    achats = await folder_id(sessions, "Achats")
    gets = [
        f"/admin/folders/{theirs.id}/delete",
        f"/admin/applications/{their_app.id}/connect",
        f"/admin/applications/{their_app.id}/connect/dossiers?folder={achats}",
        f"/admin/applications/{ocr}/connect/dossiers?folder={theirs.id}",
        f"/admin/applications/{their_app.id}/connect/template.csv",
    ]
    for path in gets:
        response = await client.get(path)
        assert response.status == 404, path
    posts = [
        (f"/admin/folders/{theirs.id}/rename", {"name": "X"}),
        (f"/admin/folders/{theirs.id}/delete", {}),
        ("/admin/folders", {"name": "X", "parent": str(theirs.id)}),
        (f"/admin/applications/{their_app.id}/connect", {"folder": str(achats)}),
        (f"/admin/applications/{ocr}/connect", {"folder": str(theirs.id)}),
        (
            f"/admin/applications/{ocr}/connect/dossiers",
            {
                "folder": str(achats),
                "shown": str(their_dossier.id),
                f"auth.{their_dossier.id}": "1",
                f"value.{their_dossier.id}": "X",
            },
        ),
        (
            f"/admin/applications/{ocr}/connect/dossiers",
            {"folder": str(achats), "action": f"disconnect:{their_dossier.id}"},
        ),
    ]
    for path, data in posts:
        response = await client.post(path, data={"csrf_token": token, **data})
        assert response.status == 404, path
    async with sessions() as session:
        assert list(await session.scalars(select(Connection.id))) == []
        kept = await session.get(Folder, theirs.id)
        assert kept is not None and kept.name == "Achats"
