"""Document intake: who may upload where, what is stored, and which applications it goes to."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hub.documents import (
    MAX_DOCUMENT_SIZE,
    blob_store,
    detect_content_type,
    receive_document,
    sanitise_filename,
)
from hub.errors import InvalidInput, NotFound, PermissionDenied, StorageUnavailable
from hub.identity import Actor, staff_actor
from hub.services import Hub
from storage.blobs import BlobStore
from storage.db import Sessions
from storage.models import (
    AuditEvent,
    ContactDossier,
    Document,
    DocumentVersion,
    Dossier,
    Firm,
    StaffUser,
)
from tests import scenes
from tests.connectors.arrange import (
    PDF,
    PNG,
    add_app,
    connect,
    deliveries,
    pdf,
    set_connection_active,
    sha,
)
from tests.scenes import Office


@pytest.fixture
async def admin(hub: Hub, office: Office) -> Actor:
    return await scenes.actor(hub.sessions, office.firm, office.admin)


@pytest.fixture
async def code(office: Office) -> str:
    return office.dossier.code


# --------------------------------------------------------------------------- routing


async def test_a_version_goes_to_the_connected_folder_and_its_sub_folders_only(
    hub: Hub, office: Office, admin: Actor, code: str
) -> None:
    ocr = await add_app(hub, office.firm.id, "ocr-achats", api_url="https://ocr.example")
    connection = await connect(hub.sessions, office.firm.id, ocr, code, ["Achats"])

    top = await receive_document(hub, admin, code, "Achats", "f1.pdf", pdf("1"), "panel")
    sub = await receive_document(hub, admin, code, "Achats/2025", "f2.pdf", pdf("2"), "panel")
    other = await receive_document(hub, admin, code, "Ventes", "f3.pdf", pdf("3"), "panel")

    assert (top.deliveries, sub.deliveries, other.deliveries) == (1, 1, 0)
    sent = await deliveries(hub.sessions)
    assert {d.document_version_id for d in sent} == {top.version_id, sub.version_id}
    assert {d.connection_id for d in sent} == {connection}
    assert all(d.status == "pending" and d.idempotency_key for d in sent)
    assert len({d.idempotency_key for d in sent}) == 2


async def test_a_folder_whose_name_only_starts_alike_is_not_a_sub_folder(
    hub: Hub, office: Office, admin: Actor, code: str
) -> None:
    await scenes.folders(hub.sessions, office.firm, "Achats/2026")
    ocr = await add_app(hub, office.firm.id, "ocr-achats", api_url="https://ocr.example")
    await connect(hub.sessions, office.firm.id, ocr, code, ["Achats/2025"])
    receipt = await receive_document(hub, admin, code, "Achats/2026", "a.pdf", PDF, "panel")
    assert receipt.deliveries == 0


async def test_versions_that_arrived_before_the_connection_are_not_sent(
    hub: Hub, office: Office, admin: Actor, code: str
) -> None:
    before = await receive_document(hub, admin, code, "Achats", "old.pdf", pdf("old"), "panel")
    ocr = await add_app(hub, office.firm.id, "ocr-achats", api_url="https://ocr.example")
    await connect(hub.sessions, office.firm.id, ocr, code, ["Achats"])
    after = await receive_document(hub, admin, code, "Achats", "new.pdf", pdf("new"), "panel")

    assert before.deliveries == 0 and after.deliveries == 1
    assert [d.document_version_id for d in await deliveries(hub.sessions)] == [after.version_id]


async def test_a_folder_connected_in_the_future_does_not_receive_yet(
    hub: Hub, office: Office, admin: Actor, code: str
) -> None:
    ocr = await add_app(hub, office.firm.id, "ocr-achats", api_url="https://ocr.example")
    later = datetime.now(UTC) + timedelta(hours=1)
    await connect(hub.sessions, office.firm.id, ocr, code, ["Achats"], connected_at=later)
    receipt = await receive_document(hub, admin, code, "Achats", "a.pdf", PDF, "panel")
    assert receipt.deliveries == 0


async def test_an_inactive_connection_receives_nothing(
    hub: Hub, office: Office, admin: Actor, code: str
) -> None:
    ocr = await add_app(hub, office.firm.id, "ocr-achats", api_url="https://ocr.example")
    connection = await connect(hub.sessions, office.firm.id, ocr, code, ["Achats"])
    await set_connection_active(hub.sessions, connection, False)
    receipt = await receive_document(hub, admin, code, "Achats", "a.pdf", PDF, "panel")
    assert receipt.deliveries == 0 and await deliveries(hub.sessions) == []


async def test_other_dossiers_connections_are_not_used(
    hub: Hub, office: Office, admin: Actor, sessions: Sessions
) -> None:
    (another,) = await scenes.dossiers(sessions, office.firm, office.admin, prefix="TWO")
    first, second = office.dossier.code, another.code
    ocr = await add_app(hub, office.firm.id, "ocr-achats", api_url="https://ocr.example")
    await connect(hub.sessions, office.firm.id, ocr, second, ["Achats"])
    receipt = await receive_document(hub, admin, first, "Achats", "a.pdf", PDF, "panel")
    assert receipt.deliveries == 0


async def test_several_applications_each_get_one_delivery(
    hub: Hub, office: Office, admin: Actor, code: str
) -> None:
    ocr = await add_app(hub, office.firm.id, "ocr-achats", api_url="https://ocr.example")
    mail = await add_app(hub, office.firm.id, "pre-compta-email")
    # Connected twice over (the folder and its parent): still one delivery for that application.
    ocr_connection = await connect(
        hub.sessions, office.firm.id, ocr, code, ["Achats", "Achats/2025"]
    )
    mail_connection = await connect(
        hub.sessions, office.firm.id, mail, code, ["Achats"], collection_email="in@collect.example"
    )
    receipt = await receive_document(hub, admin, code, "Achats/2025", "a.pdf", PDF, "bot")
    assert receipt.deliveries == 2
    created = await deliveries(hub.sessions, receipt.version_id)
    assert sorted(d.connection_id for d in created) == sorted([ocr_connection, mail_connection])


# --------------------------------------------------------------------------- intake rules


async def test_the_version_is_stored_by_content_with_who_and_how(
    hub: Hub, admin: Actor, code: str
) -> None:
    receipt = await receive_document(hub, admin, code, "Achats", "facture.pdf", PDF, "api")
    assert (receipt.number, receipt.size, receipt.sha256) == (1, len(PDF), sha(PDF))
    assert blob_store(hub.settings).read(receipt.sha256) == PDF
    async with hub.sessions() as session:
        version = await session.get(DocumentVersion, receipt.version_id)
        event = await session.scalar(
            select(AuditEvent).where(AuditEvent.action == "document.received")
        )
    assert version is not None
    assert (version.uploaded_by, version.source, version.content_type) == (
        admin.ref,
        "api",
        "application/pdf",
    )
    assert event is not None and event.actor == admin.ref
    assert event.target_id == str(receipt.version_id)
    assert event.details["name"] == "facture.pdf" and event.details["dossier"] == code


async def test_the_same_bytes_again_are_recognised_and_change_nothing(
    hub: Hub, office: Office, admin: Actor, code: str
) -> None:
    ocr = await add_app(hub, office.firm.id, "ocr-achats", api_url="https://ocr.example")
    await connect(hub.sessions, office.firm.id, ocr, code, ["Achats"])
    first = await receive_document(hub, admin, code, "Achats", "a.pdf", pdf("v1"), "panel")
    again = await receive_document(hub, admin, code, "Achats", "a.pdf", pdf("v1"), "bot")
    changed = await receive_document(hub, admin, code, "Achats", "a.pdf", pdf("v2"), "panel")

    assert not first.duplicate and again.duplicate
    assert (again.version_id, again.number, again.deliveries) == (first.version_id, 1, 0)
    assert (changed.number, changed.deliveries, changed.duplicate) == (2, 1, False)
    assert changed.document_id == first.document_id
    assert len(await deliveries(hub.sessions)) == 2


async def test_the_same_bytes_under_another_name_are_another_document(
    hub: Hub, admin: Actor, code: str
) -> None:
    one = await receive_document(hub, admin, code, "Achats", "a.pdf", PDF, "panel")
    two = await receive_document(hub, admin, code, "Achats", "b.pdf", PDF, "panel")
    assert not two.duplicate and two.document_id != one.document_id


async def test_a_contact_uploads_to_their_dossier_only(
    hub: Hub, office: Office, sessions: Sessions
) -> None:
    await scenes.dossiers(sessions, office.firm, office.admin, prefix="OTH")
    guest = await scenes.contact(sessions, office.firm, office.dossier)
    contact = await scenes.actor(sessions, office.firm, guest)
    async with sessions() as session:
        linked = await session.scalar(
            select(Dossier.code)
            .join(ContactDossier, ContactDossier.dossier_id == Dossier.id)
            .where(ContactDossier.contact_id == contact.id)
        )
        other = await session.scalar(
            select(Dossier.code).where(
                Dossier.firm_id == office.firm.id,
                ~Dossier.id.in_(
                    select(ContactDossier.dossier_id).where(ContactDossier.contact_id == contact.id)
                ),
            )
        )
    assert linked and other
    receipt = await receive_document(hub, contact, linked, "Achats", "ticket.pdf", PDF, "bot")
    assert receipt.number == 1
    with pytest.raises(PermissionDenied):
        await receive_document(hub, contact, other, "Achats", "ticket.pdf", PDF, "bot")


async def test_a_collaborator_adds_documents_to_their_portfolio_only(
    hub: Hub, office: Office, sessions: Sessions
) -> None:
    """The bot's file intake and the panel share this rule: the folder view's (portfolio)."""
    colleague = await scenes.staff(sessions, office.firm, "collaborator")
    await scenes.dossiers(sessions, office.firm, colleague, prefix="COL")
    collaborator = await scenes.actor(sessions, office.firm, colleague)
    async with sessions() as session:
        mine = await session.scalar(
            select(Dossier.code).where(Dossier.master_id == collaborator.id).limit(1)
        )
        other = await session.scalar(
            select(Dossier.code)
            .where(
                Dossier.firm_id == office.firm.id,
                Dossier.master_id != collaborator.id,
                Dossier.engagement_manager_id.is_distinct_from(collaborator.id),
            )
            .limit(1)
        )
    assert mine and other
    receipt = await receive_document(hub, collaborator, mine, "Achats", "a.pdf", PDF, "bot")
    assert receipt.number == 1
    with pytest.raises(PermissionDenied):
        await receive_document(hub, collaborator, other, "Achats", "a.pdf", PDF, "bot")


async def test_a_firm_never_reaches_another_firms_dossiers(
    hub: Hub, sessions: Sessions, code: str
) -> None:
    async with sessions() as session, session.begin():
        firm = Firm(name="Autre cabinet", tenant_id="other-tenant")
        session.add(firm)
        await session.flush()
        user = StaffUser(
            firm_id=firm.id,
            entra_object_id="other-admin",
            email="admin@autre.example",
            display_name="Autre Admin",
            role="administrator",
        )
        session.add(user)
        await session.flush()
        stranger = staff_actor(firm, user)
    with pytest.raises(NotFound):
        await receive_document(hub, stranger, code, "Achats", "a.pdf", PDF, "api")


async def test_unknown_folder_empty_and_oversize_files_are_refused_clearly(
    hub: Hub, admin: Actor, code: str
) -> None:
    with pytest.raises(InvalidInput) as unknown:
        await receive_document(hub, admin, code, "Achats/1999", "a.pdf", PDF, "panel")
    assert unknown.value.field == "folder" and unknown.value.params["path"] == "Achats/1999"
    with pytest.raises(InvalidInput) as empty:
        await receive_document(hub, admin, code, "Achats", "a.pdf", b"", "panel")
    assert empty.value.key == "documents.empty"
    with pytest.raises(InvalidInput) as big:
        await receive_document(
            hub, admin, code, "Achats", "a.pdf", b"%PDF-" + bytes(MAX_DOCUMENT_SIZE), "panel"
        )
    assert big.value.key == "documents.too_large"
    assert big.value.params["limit"] == MAX_DOCUMENT_SIZE


async def test_the_file_name_is_sanitised_before_it_is_stored(
    hub: Hub, admin: Actor, code: str
) -> None:
    receipt = await receive_document(
        hub, admin, code, "/Achats/", "C:\\Users\\léa\\Reçu été\x07.pdf", PDF, "panel"
    )
    assert receipt.name == "Reçu été.pdf"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\facture été.pdf", "facture été.pdf"),
        ("CON.pdf", "_CON.pdf"),
        ("nul", "_nul"),
        ("a\x00b\tc.pdf", "ab c.pdf"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),
        ('what?<is>"this".pdf', "what__is__this_.pdf"),
        ("  .hidden. ", "hidden"),
        ("e\u0301te\u0301.pdf", "été.pdf"),
    ],
)
def test_file_names_are_made_safe_keeping_accents(raw: str, clean: str) -> None:
    assert sanitise_filename(raw) == clean


def test_a_long_file_name_keeps_its_extension() -> None:
    name = sanitise_filename("x" * 500 + ".pdf")
    assert len(name) == 200 and name.endswith(".pdf")


@pytest.mark.parametrize("raw", ["", "...", "/", " \x01 "])
def test_a_name_with_nothing_left_is_refused(raw: str) -> None:
    with pytest.raises(InvalidInput):
        sanitise_filename(raw)


def _office(folder: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr(f"{folder}/document.xml", "<x/>")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (PDF, "application/pdf"),
        (PNG, "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"II*\x00\x08\x00\x00\x00", "image/tiff"),
        (b"MM\x00*\x00\x00\x00\x08", "image/tiff"),
        (b'\xef\xbb\xbf<?xml version="1.0"?><Invoice/>', "application/xml"),
        (
            _office("word"),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        (_office("xl"), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (b"date;montant\n2025-01-02;12,50 \xe2\x82\xac\n", "text/plain"),
        (b"\x00\x01\x02\x03binary", "application/octet-stream"),
    ],
)
def test_the_type_comes_from_the_bytes(data: bytes, expected: str) -> None:
    assert detect_content_type(data) == expected


async def test_the_type_is_detected_whatever_the_extension(
    hub: Hub, admin: Actor, code: str
) -> None:
    receipt = await receive_document(hub, admin, code, "Achats", "photo.jpg", PDF, "panel")
    assert receipt.content_type == "application/pdf"


# --------------------------------------------------------------------------- the file store


def test_the_blob_store_keeps_each_content_once(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    digest, size = store.put(PDF)
    assert (digest, size) == (sha(PDF), len(PDF))
    assert store.put(PDF) == (digest, size)
    assert store.read(digest) == PDF
    assert store.path(digest).parent.parent.name == digest[:2]
    files = [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]
    assert files == [store.path(digest)]  # no temporary file left behind


def test_the_blob_store_refuses_anything_but_a_digest(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    with pytest.raises(ValueError):
        store.read("../../etc/passwd")


async def test_a_document_folder_that_cannot_be_written_stores_nothing(
    hub: Hub, settings: Any, admin: Actor, code: str, sessions: Sessions
) -> None:
    """The file is written first: when it cannot be, no document or version row exists without
    it, and the error says the folder is the trouble (503, try again), not the request."""
    settings.data_dir.parent.mkdir(parents=True, exist_ok=True)
    settings.data_dir.write_text("a file where the folder should be")
    with pytest.raises(StorageUnavailable) as caught:
        await receive_document(hub, admin, code, "Achats", "f.pdf", pdf("1"), "cli")
    assert caught.value.status == 503 and caught.value.retry_after > 0
    assert "the document folder cannot be written (Not a directory" in str(caught.value)
    async with sessions() as session:
        assert (await session.scalars(select(DocumentVersion))).all() == []
        assert (await session.scalars(select(Document))).all() == []
