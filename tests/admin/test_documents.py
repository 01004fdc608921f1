"""A dossier's documents in the panel: the folder tree, upload of several files, a result per
file, and the API tokens page — as a person reads them."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import FormData
from sqlalchemy import select

from hub.demo import DemoInfo
from storage.db import Sessions
from storage.models import ApiToken, AuditEvent, Document, DocumentVersion
from tests.admin.conftest import JAMES, Client, csrf_of, visible

SignIn = Callable[..., Awaitable[str]]
PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n"


async def _first_code(client: Client) -> str:
    page = await (await client.get("/admin/dossiers")).text()
    match = re.search(r'data-code="([^"]+)"', page)
    assert match
    return match.group(1)


async def _upload(
    client: Client, code: str, folder: str, files: list[tuple[str, bytes]], page: str
) -> Any:
    form = FormData()
    form.add_field("csrf_token", csrf_of(page))
    form.add_field("folder", folder)
    for name, data in files:
        form.add_field("files", data, filename=name, content_type="application/octet-stream")
    return await client.post(f"/admin/dossiers/{code}/documents", data=form)


async def test_the_folder_view_shows_the_tree_and_an_empty_folder(
    client: Client, signed_in: SignIn
) -> None:
    await signed_in()
    code = await _first_code(client)
    dossiers = await (await client.get("/admin/dossiers")).text()
    assert f'aria-label="Documents du dossier {code}"' in dossiers

    response = await client.get(f"/admin/dossiers/{code}/documents")
    assert response.status == 200
    text = visible(await response.text())
    assert f"Dossiers › {code} › Documents" in text
    assert "Répertoires Achats 2025 2026 Administratif" in text
    assert "Aucun document dans ce répertoire" in text
    # The first folder of the tree is selected and is where files go.
    assert "Ajouter des fichiers dans Achats" in text


async def test_uploading_several_files_reports_each_and_lists_them(
    client: Client, signed_in: SignIn, sessions: Sessions
) -> None:
    await signed_in()
    code = await _first_code(client)
    page = await (await client.get(f"/admin/dossiers/{code}/documents?folder=Achats/2025")).text()

    response = await _upload(
        client,
        code,
        "Achats/2025",
        [("facture-0412.pdf", PDF), ("notes.txt", b"Loyer de mars\n"), ("vide.pdf", b"")],
        page,
    )
    assert response.status == 200
    text = visible(await response.text())
    assert "facture-0412.pdf enregistré en version 1 · aucune application ne reçoit" in text
    assert "notes.txt enregistré en version 1" in text
    assert "vide.pdf refusé : vide.pdf est vide" in text
    assert "2 documents" in text
    # The list: name, version, size, who, source.
    assert re.search(
        r"facture-0412\.pdf v1 35 o Claire Durand \d\d/\d\d/20\d\d \d\d:\d\d · panneau d'administration",
        text,
    )
    assert "Aucune application" in text

    # The same bytes again are recognised; new bytes make version 2.
    response = await _upload(
        client,
        code,
        "Achats/2025",
        [("facture-0412.pdf", PDF), ("notes.txt", b"Loyer d'avril\n")],
        page,
    )
    text = visible(await response.text())
    assert "facture-0412.pdf identique à la dernière version (version 1)" in text
    assert "notes.txt enregistré en version 2" in text
    assert "notes.txt v2" in text

    async with sessions() as session:
        versions = (
            await session.execute(
                select(Document.name, DocumentVersion.number, DocumentVersion.source).join(
                    Document, Document.id == DocumentVersion.document_id
                )
            )
        ).all()
    assert sorted(versions) == [
        ("facture-0412.pdf", 1, "panel"),
        ("notes.txt", 1, "panel"),
        ("notes.txt", 2, "panel"),
    ]


async def test_the_tree_counts_documents_and_other_folders_stay_empty(
    client: Client, signed_in: SignIn
) -> None:
    await signed_in(JAMES)
    code = await _first_code(client)
    page = await (await client.get(f"/admin/dossiers/{code}/documents?folder=Ventes")).text()
    response = await _upload(client, code, "Ventes", [("invoice.pdf", PDF)], page)
    text = visible(await response.text())
    assert "invoice.pdf stored as version 1" in text
    assert "Sales" not in text  # folder names are the firm's, not translated
    tree = visible(
        await (await client.get(f"/admin/dossiers/{code}/documents?folder=Achats")).text()
    )
    assert "Ventes 1" in tree
    assert "No document in this folder yet" in tree


async def test_an_upload_without_a_file_or_to_an_unknown_folder_is_explained(
    client: Client, signed_in: SignIn
) -> None:
    await signed_in()
    code = await _first_code(client)
    page = await (await client.get(f"/admin/dossiers/{code}/documents")).text()
    response = await _upload(client, code, "Achats", [], page)
    assert response.status == 400
    assert "Choisissez au moins un fichier à déposer." in visible(await response.text())

    response = await _upload(client, code, "Achats/1999", [("a.pdf", PDF)], page)
    text = visible(await response.text())
    assert "a.pdf refusé : il n'y a pas de répertoire « Achats/1999 »" in text

    response = await client.get(f"/admin/dossiers/{code}/documents?folder=Nulle/Part")
    assert response.status == 400


async def test_an_unknown_dossier_is_not_found_and_the_page_needs_sign_in(
    client: Client, signed_in: SignIn
) -> None:
    response = await client.get("/admin/dossiers/NOPE/documents", allow_redirects=False)
    assert response.status == 302
    await signed_in()
    response = await client.get("/admin/dossiers/NOPE/documents")
    assert response.status == 404


async def test_an_upload_without_the_csrf_token_is_refused(
    client: Client, signed_in: SignIn, sessions: Sessions
) -> None:
    await signed_in()
    code = await _first_code(client)
    form = FormData()
    form.add_field("folder", "Achats")
    form.add_field("files", PDF, filename="a.pdf")
    response = await client.post(f"/admin/dossiers/{code}/documents", data=form)
    assert response.status == 403
    async with sessions() as session:
        assert (await session.scalars(select(Document))).first() is None


# --------------------------------------------------------------------------- tokens


async def test_an_administrator_creates_a_token_sees_it_once_and_revokes_it(
    client: Client, signed_in: SignIn, sessions: Sessions
) -> None:
    await signed_in()
    page = await (await client.get("/admin/tokens")).text()
    assert "Aucun jeton pour l'instant" in visible(page)

    response = await client.post(
        "/admin/tokens", data={"csrf_token": csrf_of(page), "label": "  Scanner   accueil "}
    )
    assert response.status == 200
    html = await response.text()
    text = visible(html)
    assert "Jeton « Scanner accueil » créé" in text
    assert "il n'est affiché que cette fois" in text
    secret = re.search(r'id="tok-secret"[^>]*value="(rls_[^"]+)"', html)
    assert secret
    assert "Scanner accueil Claire Durand" in text and "Jamais" in text

    again = await (await client.get("/admin/tokens")).text()
    assert secret.group(1) not in again  # never shown again
    async with sessions() as session:
        token = (await session.scalars(select(ApiToken))).one()
        events = list(await session.scalars(select(AuditEvent)))
    assert token.token_hash != secret.group(1) and len(token.token_hash) == 64
    assert all(secret.group(1) not in str(e.details) for e in events)

    response = await client.post(
        f"/admin/tokens/{token.id}/revoke", data={"csrf_token": csrf_of(again)}
    )
    text = visible(await response.text())
    assert "Le jeton « Scanner accueil » est révoqué" in text
    assert "Scanner accueil Révoqué" in text


async def test_a_token_needs_a_label(client: Client, signed_in: SignIn) -> None:
    await signed_in()
    page = await (await client.get("/admin/tokens")).text()
    response = await client.post("/admin/tokens", data={"csrf_token": csrf_of(page), "label": " "})
    assert response.status == 400
    assert "Donnez un libellé au jeton" in visible(await response.text())


async def test_collaborators_may_not_manage_tokens(
    client: Client, signed_in: SignIn, demo: DemoInfo
) -> None:
    await signed_in(JAMES)
    response = await client.get("/admin/tokens")
    assert response.status == 403
    assert "Only the firm's administrators can do this" in visible(await response.text())
