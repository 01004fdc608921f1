"""The document REST API (/api/v1) with firm API tokens, and its OpenAPI description."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import FormData, MultipartWriter
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from hub.documents import MAX_DOCUMENT_SIZE
from hub.identity import Actor, staff_actor
from hub.services import Hub
from hub.settings import Settings
from hub.tokens import create_token, revoke_token
from relais.app import build_app
from storage.db import Sessions
from storage.models import (
    ApiToken,
    AuditEvent,
    DocumentVersion,
    Dossier,
    Firm,
    Folder,
    StaffUser,
)
from tests import scenes
from tests.scenes import Office

OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n"

Client = TestClient[Any, Any]


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings, office: Office) -> Client:
    result: Client = await aiohttp_client(build_app(settings))
    return result


async def _admin(sessions: Sessions, firm_id: int) -> Actor:
    async with sessions() as session:
        firm = await session.get(Firm, firm_id)
        user = await session.scalar(
            select(StaffUser).where(StaffUser.firm_id == firm_id, StaffUser.role == "administrator")
        )
        assert firm is not None and user is not None
        return staff_actor(firm, user)


@pytest.fixture
async def admin(sessions: Sessions, office: Office) -> Actor:
    return await _admin(sessions, office.firm.id)


@pytest.fixture
async def token(hub: Hub, admin: Actor) -> str:
    return (await create_token(hub, admin, "Scanner")).secret


@pytest.fixture
async def code(office: Office) -> str:
    return office.dossier.code


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def _form(name: str, data: bytes, folder: str = "Achats") -> FormData:
    # As browsers and curl send it: the file name as it is, not percent-encoded.
    form = FormData(quote_fields=False)
    form.add_field("folder", folder)
    form.add_field("file", data, filename=name, content_type="application/pdf")
    return form


async def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status == status, await response.text()
    assert response.content_type == "application/problem+json"
    body: dict[str, Any] = await response.json()
    assert body["status"] == status
    assert set(body) >= {"type", "title", "status", "detail"}
    assert "Traceback" not in str(body)
    return body


# --------------------------------------------------------------------------- uploads


async def test_a_multipart_upload_stores_a_version_and_answers_its_receipt(
    client: Client, token: str, code: str, sessions: Sessions
) -> None:
    response = await client.post(
        f"/api/v1/dossiers/{code}/documents",
        data=_form("facture 0412.pdf", PDF, "Achats/2025"),
        headers=_bearer(token),
    )
    assert response.status == 201, await response.text()
    receipt = await response.json()
    assert receipt["dossier"] == code and receipt["folder"] == "Achats/2025"
    assert receipt["name"] == "facture 0412.pdf"
    assert (receipt["version"], receipt["size"], receipt["duplicate"]) == (1, len(PDF), False)
    assert receipt["content_type"] == "application/pdf"
    assert receipt["deliveries"] == 0

    again = await client.post(
        f"/api/v1/dossiers/{code}/documents",
        data=_form("facture 0412.pdf", PDF, "Achats/2025"),
        headers=_bearer(token),
    )
    assert again.status == 200
    assert (await again.json())["duplicate"] is True

    async with sessions() as session:
        version = (await session.scalars(select(DocumentVersion))).one()
        token_id = await session.scalar(select(ApiToken.id))
        event = await session.scalar(
            select(AuditEvent).where(AuditEvent.action == "document.received")
        )
        used = await session.scalar(select(ApiToken.last_used_at))
    # The audit trail says which token did it.
    assert version.uploaded_by == f"token:{token_id}" and version.source == "api"
    assert event is not None and event.actor == f"token:{token_id}"
    assert used is not None


async def test_a_raw_body_upload_takes_the_name_from_the_query_or_content_disposition(
    client: Client, token: str, code: str
) -> None:
    response = await client.post(
        f"/api/v1/dossiers/{code}/documents?folder=Ventes&filename=relev%C3%A9.txt",
        data=b"Relev\xc3\xa9 de compte\n",
        headers={**_bearer(token), "Content-Type": "application/octet-stream"},
    )
    assert response.status == 201, await response.text()
    assert (await response.json())["name"] == "relevé.txt"

    response = await client.post(
        f"/api/v1/dossiers/{code}/documents?folder=Ventes",
        data=PDF,
        headers={
            **_bearer(token),
            "Content-Type": "application/pdf",
            "Content-Disposition": "attachment; filename*=UTF-8''re%C3%A7u%20mars.pdf",
        },
    )
    assert response.status == 201
    assert (await response.json())["name"] == "reçu mars.pdf"


async def test_the_listing_shows_each_document_with_its_latest_version(
    client: Client, token: str, code: str
) -> None:
    for name, data, folder in (
        ("a.pdf", PDF, "Achats"),
        ("a.pdf", PDF + b"v2", "Achats"),
        ("b.txt", b"hello", "Ventes"),
    ):
        response = await client.post(
            f"/api/v1/dossiers/{code}/documents",
            data=_form(name, data, folder),
            headers=_bearer(token),
        )
        assert response.status == 201
    listing = await client.get(f"/api/v1/dossiers/{code}/documents", headers=_bearer(token))
    assert listing.status == 200
    body = await listing.json()
    assert body["total"] == 2 and body["page"] == 1
    assert [(d["folder"], d["name"], d["version"]) for d in body["items"]] == [
        ("Achats", "a.pdf", 2),
        ("Ventes", "b.txt", 1),
    ]
    assert body["items"][0]["deliveries"] == {"pending": 0, "sent": 0, "failed": 0}
    only = await client.get(
        f"/api/v1/dossiers/{code}/documents?folder=Ventes", headers=_bearer(token)
    )
    assert [d["name"] for d in (await only.json())["items"]] == ["b.txt"]


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer ", "Basic dXNlcjpwYXNz", "Bearer rls_not-a-real-token", "Bearer nonsense"],
)
async def test_no_token_or_a_bad_one_is_401(
    client: Client, code: str, authorization: str | None, sessions: Sessions
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = await client.post(
        f"/api/v1/dossiers/{code}/documents", data=_form("a.pdf", PDF), headers=headers
    )
    body = await _problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "token" in body["detail"]
    listing = await client.get(f"/api/v1/dossiers/{code}/documents", headers=headers)
    await _problem(listing, 401)
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(DocumentVersion)) == 0


async def test_a_revoked_token_is_refused_at_once(
    client: Client, hub: Hub, admin: Actor, code: str
) -> None:
    created = await create_token(hub, admin, "Old scanner")
    ok = await client.get(f"/api/v1/dossiers/{code}/documents", headers=_bearer(created.secret))
    assert ok.status == 200
    await revoke_token(hub, admin, created.id)
    response = await client.get(
        f"/api/v1/dossiers/{code}/documents", headers=_bearer(created.secret)
    )
    body = await _problem(response, 401)
    assert body["detail"] == "The API token is unknown or revoked."


async def test_another_firms_dossier_is_404_like_an_unknown_one(
    client: Client, token: str, sessions: Sessions, hub: Hub
) -> None:
    async with sessions() as session, session.begin():
        other = Firm(name="Autre cabinet", tenant_id="99999999-0000-4000-8000-000000000000")
        session.add(other)
        await session.flush()
        session.add(Dossier(firm_id=other.id, code="SECRET01", name="Not yours"))
        session.add(Folder(firm_id=other.id, name="Achats", path="Achats"))
    for code in ("SECRET01", "NOPE"):
        response = await client.post(
            f"/api/v1/dossiers/{code}/documents", data=_form("a.pdf", PDF), headers=_bearer(token)
        )
        body = await _problem(response, 404)
        assert body["detail"] == f"There is no dossier {code}."
        listing = await client.get(f"/api/v1/dossiers/{code}/documents", headers=_bearer(token))
        await _problem(listing, 404)


@pytest.mark.parametrize(
    ("name", "folder", "detail"),
    [
        ("a.pdf", "Achats/1999", "there is no folder “Achats/1999” in the firm's folder tree"),
        ("...", "Achats", "the file name is empty or unusable"),
    ],
)
async def test_a_bad_folder_or_file_name_is_422(
    client: Client, token: str, code: str, name: str, folder: str, detail: str
) -> None:
    response = await client.post(
        f"/api/v1/dossiers/{code}/documents", data=_form(name, PDF, folder), headers=_bearer(token)
    )
    body = await _problem(response, 422)
    assert body["detail"] == detail


async def test_a_multipart_body_without_a_file_part_is_422(
    client: Client, token: str, code: str
) -> None:
    with MultipartWriter("form-data") as form:
        for name, value in (("folder", "Achats"), ("note", "no file here")):
            form.append(value).set_content_disposition("form-data", name=name)
    response = await client.post(
        f"/api/v1/dossiers/{code}/documents", data=form, headers=_bearer(token)
    )
    body = await _problem(response, 422)
    assert body["code"] == "api.no_file"


async def test_problems_speak_french_when_asked(client: Client, code: str) -> None:
    response = await client.get(
        f"/api/v1/dossiers/{code}/documents", headers={"Accept-Language": "fr-FR,fr;q=0.9"}
    )
    body = await _problem(response, 401)
    assert body["detail"].startswith("Envoyez un jeton d'API du cabinet")


async def test_an_announced_oversize_body_is_413_before_anything_is_read(
    client: Client, token: str, code: str, sessions: Sessions, settings: Settings
) -> None:
    async def small() -> AsyncIterator[bytes]:
        yield b"x" * 10

    # The header alone decides: the few bytes actually sent are never read.
    response = await client.post(
        f"/api/v1/dossiers/{code}/documents?folder=Achats&filename=big.pdf",
        data=small(),
        headers={
            **_bearer(token),
            "Content-Type": "application/pdf",
            "Content-Length": str(MAX_DOCUMENT_SIZE + 1),
        },
        chunked=False,
    )
    body = await _problem(response, 413)
    assert body["code"] == "documents.too_large"


async def test_a_streamed_body_past_the_limit_is_cut_off_with_413(
    client: Client, token: str, code: str, sessions: Sessions, settings: Settings
) -> None:
    sent = 0
    chunk = b"%PDF" + b"0" * (1024 * 1024 - 4)

    async def endless() -> AsyncIterator[bytes]:
        nonlocal sent
        # More than the limit, with no Content-Length: only counting while reading can stop it.
        while sent <= MAX_DOCUMENT_SIZE + 2 * len(chunk):
            sent += len(chunk)
            yield chunk

    response = await client.post(
        f"/api/v1/dossiers/{code}/documents?folder=Achats&filename=big.pdf",
        data=endless(),
        headers={**_bearer(token), "Content-Type": "application/pdf"},
    )
    body = await _problem(response, 413)
    assert str(MAX_DOCUMENT_SIZE) in body["detail"]
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(DocumentVersion)) == 0
    blobs = settings.data_dir / "blobs"
    assert not blobs.exists() or not any(p.is_file() for p in blobs.rglob("*"))


async def test_an_unknown_api_route_is_a_problem_document_too(client: Client, token: str) -> None:
    response = await client.get("/api/v1/dossiers", headers=_bearer(token))
    await _problem(response, 404)


# --------------------------------------------------------------------------- OpenAPI


def test_the_openapi_file_is_a_valid_openapi_3_1_document() -> None:
    from openapi_spec_validator import validate

    spec = yaml.safe_load(OPENAPI.read_text("utf-8"))
    assert spec["openapi"].startswith("3.1")
    validate(spec)
    paths = spec["paths"]["/dossiers/{code}/documents"]
    assert set(paths) >= {"get", "post"}
    responses = paths["post"]["responses"]
    assert set(responses) >= {"200", "201", "401", "404", "413", "422"}
    assert spec["components"]["securitySchemes"]["firmToken"]["scheme"] == "bearer"


def test_the_openapi_file_names_every_route_the_api_serves(hub: Hub) -> None:
    import api

    spec = yaml.safe_load(OPENAPI.read_text("utf-8"))
    served = {
        (route.method.lower(), route.resource.canonical)
        for route in api.create_app(hub).router.routes()
        if route.resource is not None and route.method != "HEAD"
    }
    documented = {
        (method, path)
        for path, item in spec["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert served == documented


async def test_a_token_acts_for_the_whole_firm_not_as_a_contact_of_the_same_id(
    client: Client, token: str, sessions: Sessions, office: Office
) -> None:
    """Token 1 must reach every dossier of the firm, not only those of contact 1."""
    contact = await scenes.contact(sessions, office.firm, office.dossier)
    (other,) = await scenes.dossiers(sessions, office.firm, office.admin, prefix="OTH")
    assert contact.id == 1 and contact.dossier_ids == (office.dossier.id,)
    last = other.code
    response = await client.post(
        f"/api/v1/dossiers/{last}/documents", data=_form("a.pdf", PDF), headers=_bearer(token)
    )
    assert response.status == 201, await response.text()
