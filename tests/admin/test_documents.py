"""A dossier's documents in the panel: the folder tree, upload of several files, a result per
file, and the API tokens page — as a person reads them."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import FormData
from sqlalchemy import select

from relais.demo import DemoInfo
from storage.db import Sessions
from storage.models import ApiToken, AuditEvent, Document, DocumentVersion, Dossier, StaffUser
from tests.admin.conftest import JAMES, Client, csrf_of, visible

SOPHIE = "a0000000-0000-4000-8000-000000000003"  # collaborator, French

SignIn = Callable[..., Awaitable[str]]
PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n"


async def _first_code(client: Client, listing: str = "/admin/dossiers") -> str:
    """The first dossier of a list page: the firm's (``/admin/dossiers``) or one's portfolio."""
    page = await (await client.get(listing)).text()
    match = re.search(r'data-code="([^"]+)"', page)
    assert match
    return match.group(1)


async def _codes(client: Client, listing: str) -> list[str]:
    return re.findall(r'data-code="([^"]+)"', await (await client.get(listing)).text())


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
    # A collaborator works in the dossiers of their portfolio.
    code = await _first_code(client, "/admin/portfolio")
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


async def test_a_collaborator_sees_only_the_documents_of_their_portfolio(
    client: Client, signed_in: SignIn, sessions: Sessions
) -> None:
    """One rule for the folder view and the History drawer: administrators and rights managers
    see every dossier of the firm, a collaborator those they are master or engagement manager of;
    another dossier is refused with a page saying whom to ask, and nothing is stored there."""
    await signed_in(JAMES)
    mine = set(await _codes(client, "/admin/portfolio"))
    others = [c for c in await _codes(client, "/admin/dossiers") if c not in mine]
    assert mine and others
    code = next(iter(sorted(mine)))
    assert (await client.get(f"/admin/dossiers/{code}/documents")).status == 200
    # The firm's dossier list offers the folder view only where it opens.
    listing = await (await client.get("/admin/dossiers")).text()
    assert f'href="/admin/dossiers/{code}/documents"' in listing
    assert f'href="/admin/dossiers/{others[0]}/documents"' not in listing

    other = others[0]
    async with sessions() as session:
        dossier = (await session.scalars(select(Dossier).where(Dossier.code == other))).one()
    text, master = await _refusal(client, sessions, dossier)
    assert f"Dossier {other} is not in your portfolio" in text
    assert f"ask {master} or one of the firm's administrators" in text

    page = await (await client.get(f"/admin/dossiers/{code}/documents")).text()
    response = await _upload(client, other, "Achats", [("intrus.pdf", PDF)], page)
    assert response.status == 403
    async with sessions() as session:
        assert (await session.scalars(select(Document))).first() is None

    # The administrator opens the same dossier; the French refusal names the master too.
    await signed_in()
    assert (await client.get(f"/admin/dossiers/{other}/documents")).status == 200


async def _refusal(client: Client, sessions: Sessions, dossier: Dossier) -> tuple[str, str]:
    """The page refusing a dossier outside the signed-in person's portfolio, and the name of the
    dossier's master (whom it says to ask)."""
    async with sessions() as session:
        master = await session.get(StaffUser, dossier.master_id)
    assert master is not None
    response = await client.get(f"/admin/dossiers/{dossier.code}/documents")
    assert response.status == 403
    return visible(await response.text()), master.display_name


async def test_the_refusal_is_in_french_for_a_french_collaborator(
    client: Client, signed_in: SignIn, sessions: Sessions
) -> None:
    await signed_in(SOPHIE)
    mine = set(await _codes(client, "/admin/portfolio"))
    async with sessions() as session:
        other = (
            await session.scalars(
                select(Dossier)
                .where(Dossier.code.not_in(mine), Dossier.master_id.is_not(None))
                .order_by(Dossier.code)
            )
        ).first()
    assert other is not None
    text, master = await _refusal(client, sessions, other)
    assert f"Le dossier {other.code} n'est pas dans votre portefeuille" in text
    assert f"demandez à {master} ou à un administrateur du cabinet" in text


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
