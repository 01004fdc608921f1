"""Files sent to the bot in a personal chat, through the real CloudAdapter: Teams-shaped messages
with a file attachment whose download link points at a local file server, the cards that come
back at the fake Bot Connector, and the versions stored."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from connectors.teams_files import DownloadRefused, TeamsFiles, download_client
from hub.documents import MAX_DOCUMENT_SIZE
from hub.services import Hub
from hub.settings import Settings
from relais.app import build_app
from relais.demo import DEMO_TENANT_ID, DemoInfo
from storage.db import Sessions
from storage.models import Contact, ContactDossier, Document, DocumentVersion, Dossier
from tests.cards import assert_valid_card, cards_of, texts_of
from tests.connectors.arrange import add_app, connect
from tests.fakes.activities import teams_message
from tests.fakes.connector import FakeBotConnector
from tests.fakes.server import ServerThread

ADMIN = "a0000000-0000-4000-8000-000000000001"
GUEST_CONTACT = "c0000000-0000-4000-8000-000000000001"
FILE_INFO = "application/vnd.microsoft.teams.file.download.info"
PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n"


class FileServer:
    """Stands in for the sender's OneDrive: serves each file at a pre-authorised link."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[str] = []
        app = web.Application()
        app.router.add_get("/download/{key}", self._download)
        self.server = ServerThread(app, name="fake-onedrive")

    async def _download(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        self.requests.append(key)
        if key not in self.files:
            return web.Response(status=404, text="gone")
        return web.Response(body=self.files[key], content_type="application/octet-stream")

    def link(self, key: str, data: bytes | None = None) -> str:
        if data is not None:
            self.files[key] = data
        return f"{self.server.url}/download/{key}?tempauth=fake-pre-authorised-token"


@pytest.fixture
def onedrive() -> Iterator[FileServer]:
    files = FileServer()
    files.server.start()
    yield files
    files.server.stop()


@pytest.fixture
async def client(settings: Settings, demo: DemoInfo, aiohttp_client: Any) -> TestClient:
    return await aiohttp_client(build_app(settings))


def file_attachment(name: str, url: str) -> dict[str, Any]:
    """What Teams puts in a message when a person attaches a file in a personal chat."""
    return {
        "contentType": FILE_INFO,
        "contentUrl": f"https://contoso-my.sharepoint.com/personal/user/Documents/Microsoft Teams Chat Files/{name}",
        "name": name,
        "content": {
            "downloadUrl": url,
            "uniqueId": "1150D938-8870-4044-9F2C-5BBDEBA70C9D",
            "fileType": name.rpartition(".")[2],
        },
    }


async def post(
    client: TestClient,
    connector: FakeBotConnector,
    *,
    user: str,
    locale: str = "fr-FR",
    files: list[dict[str, Any]] | None = None,
    value: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Post one message as Teams would; the one card the bot answers with."""
    before = len(connector.sent)
    activity = teams_message(
        "",
        service_url=connector.url,
        tenant_id=DEMO_TENANT_ID,
        user_aad_id=user,
        locale=locale,
        value=value,
    )
    if files:
        # Teams also sends an HTML copy of the (empty) message text: it is not a file.
        activity["attachments"] = [{"contentType": "text/html", "content": "<div></div>"}, *files]
    response = await client.post("/api/messages", json=activity)
    assert response.status in (200, 201), await response.text()
    replies = (await connector.await_sent(before + 1))[before:]
    assert len(replies) == 1
    (card,) = cards_of(replies[0].body)
    assert_valid_card(card)
    return card


def inputs(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in card["body"] if item["type"].startswith("Input.")}


def submit(card: dict[str, Any], **chosen: str) -> dict[str, Any]:
    """What Teams posts back when the person presses the card's first button."""
    return {**card["actions"][0]["data"], **chosen}


async def contact_dossiers(sessions: Sessions, demo: DemoInfo) -> tuple[int, str, str]:
    """Contact 1's dossier, and a second one linked to them for the test."""
    async with sessions() as session, session.begin():
        contact = await session.scalar(
            select(Contact).where(Contact.entra_object_id == GUEST_CONTACT)
        )
        assert contact is not None
        first = await session.scalar(
            select(Dossier.code)
            .join(ContactDossier, ContactDossier.dossier_id == Dossier.id)
            .where(ContactDossier.contact_id == contact.id)
        )
        other = await session.scalar(
            select(Dossier).where(Dossier.firm_id == demo.firm_id).order_by(Dossier.code.desc())
        )
        assert first and other is not None
        session.add(
            ContactDossier(firm_id=demo.firm_id, contact_id=contact.id, dossier_id=other.id)
        )
        return contact.id, first, other.code


async def versions(sessions: Sessions) -> list[tuple[str, str, int, str, str]]:
    async with sessions() as session:
        rows = await session.execute(
            select(Dossier.code, Document.name, DocumentVersion.number, DocumentVersion.source,
                   DocumentVersion.uploaded_by)
            .join(Document, Document.id == DocumentVersion.document_id)
            .join(Dossier, Dossier.id == Document.dossier_id)
            .order_by(DocumentVersion.id)
        )  # fmt: skip
        return [tuple(r) for r in rows]  # type: ignore[misc]


# --------------------------------------------------------------------------- contacts


async def test_a_contact_with_one_dossier_is_asked_only_the_folder_then_the_file_is_stored(
    client: TestClient,
    fake_bot_connector: FakeBotConnector,
    onedrive: FileServer,
    sessions: Sessions,
    hub: Hub,
    demo: DemoInfo,
) -> None:
    async with sessions() as session:
        code = await session.scalar(
            select(Dossier.code)
            .join(ContactDossier, ContactDossier.dossier_id == Dossier.id)
            .join(Contact, Contact.id == ContactDossier.contact_id)
            .where(Contact.entra_object_id == GUEST_CONTACT)
        )
    assert code
    ocr = await add_app(hub, demo.firm_id, "ocr-achats", api_url="https://ocr.example")
    await connect(sessions, demo.firm_id, ocr, code, ["Achats"])

    link = onedrive.link("f1", PDF)
    card = await post(
        client,
        fake_bot_connector,
        user=GUEST_CONTACT,
        files=[file_attachment("facture-0412.pdf", link)],
    )
    texts = texts_of(card)
    assert texts[0] == "Où dois-je classer facture-0412.pdf ?"
    assert "Dossier" in texts and any(t.startswith(f"{code} — ") for t in texts)
    assert set(inputs(card)) == {"folder"}  # the dossier is not a question
    assert [c["value"] for c in inputs(card)["folder"]["choices"]] == [
        "Achats", "Administratif", "Notes de frais", "Ventes"
    ]  # fmt: skip
    assert [a["title"] for a in card["actions"]] == ["Classer", "Annuler"]
    assert onedrive.requests == []  # nothing downloaded before the person chose

    receipt = await post(
        client, fake_bot_connector, user=GUEST_CONTACT, value=submit(card, folder="Achats/2025")
    )
    texts = texts_of(receipt)
    assert texts[0] == "Classé"
    assert "✓ facture-0412.pdf" in texts
    assert f"Enregistré en version 1 dans {code} / Achats/2025." in texts
    assert "Il sera envoyé à 1 application." in texts
    assert onedrive.requests == ["f1"]
    contact_id = (await versions(sessions))[0][4]
    assert await versions(sessions) == [(code, "facture-0412.pdf", 1, "bot", contact_id)]
    assert contact_id.startswith("contact:")


async def test_a_contact_with_two_dossiers_chooses_the_dossier_and_folder_in_english(
    client: TestClient,
    fake_bot_connector: FakeBotConnector,
    onedrive: FileServer,
    sessions: Sessions,
    demo: DemoInfo,
) -> None:
    contact_id, first, second = await contact_dossiers(sessions, demo)
    link = onedrive.link("f2", b"Bank statement, March\n")
    card = await post(
        client,
        fake_bot_connector,
        user=GUEST_CONTACT,
        locale="en-GB",
        files=[file_attachment("statement.txt", link)],
    )
    assert texts_of(card)[0] == "Where should I file statement.txt?"
    fields = inputs(card)
    assert set(fields) == {"dossier", "folder"}
    assert [c["value"] for c in fields["dossier"]["choices"]] == sorted([first, second])
    assert fields["dossier"]["isRequired"] and fields["dossier"]["label"] == "Dossier"
    assert [a["title"] for a in card["actions"]] == ["File it", "Cancel"]

    receipt = await post(
        client,
        fake_bot_connector,
        user=GUEST_CONTACT,
        locale="en-GB",
        value=submit(card, dossier=second, folder="Ventes"),
    )
    texts = texts_of(receipt)
    assert texts[0] == "Filed"
    assert f"Stored as version 1 in {second} / Ventes." in texts
    assert "No application receives this folder yet." in texts
    assert await versions(sessions) == [
        (second, "statement.txt", 1, "bot", f"contact:{contact_id}")
    ]

    # The same file again is recognised; the pending state was cleared in between.
    card = await post(
        client, fake_bot_connector, user=GUEST_CONTACT, locale="en-GB",
        files=[file_attachment("statement.txt", link)],
    )  # fmt: skip
    receipt = await post(
        client, fake_bot_connector, user=GUEST_CONTACT, locale="en-GB",
        value=submit(card, dossier=second, folder="Ventes"),
    )  # fmt: skip
    assert (
        f"Identical to version 1 in {second} / Ventes: nothing new was stored or sent."
        in texts_of(receipt)
    )


async def test_a_contact_cannot_file_into_a_dossier_that_is_not_theirs(
    client: TestClient,
    fake_bot_connector: FakeBotConnector,
    onedrive: FileServer,
    sessions: Sessions,
    demo: DemoInfo,
) -> None:
    _, first, second = await contact_dossiers(sessions, demo)
    async with sessions() as session:
        stranger = await session.scalar(
            select(Dossier.code)
            .where(Dossier.firm_id == demo.firm_id, Dossier.code.not_in([first, second]))
            .order_by(Dossier.code)
        )
    card = await post(
        client, fake_bot_connector, user=GUEST_CONTACT, locale="en-US",
        files=[file_attachment("a.pdf", onedrive.link("f3", PDF))],
    )  # fmt: skip
    # A crafted answer naming another dossier of the firm.
    receipt = await post(
        client, fake_bot_connector, user=GUEST_CONTACT, locale="en-US",
        value=submit(card, dossier=str(stranger), folder="Achats"),
    )  # fmt: skip
    texts = texts_of(receipt)
    assert texts[0] == "I could not file it"
    assert f"Not filed: you may not add documents to dossier {stranger}." in texts
    assert await versions(sessions) == []


# --------------------------------------------------------------------------- staff


async def test_staff_choose_among_their_dossiers_and_can_send_several_files(
    client: TestClient,
    fake_bot_connector: FakeBotConnector,
    onedrive: FileServer,
    sessions: Sessions,
) -> None:
    files = [
        file_attachment("a.pdf", onedrive.link("a", PDF)),
        file_attachment("b.txt", onedrive.link("b", b"hello\n")),
        file_attachment("gone.pdf", onedrive.link("missing")),
    ]
    card = await post(client, fake_bot_connector, user=ADMIN, files=files)
    assert texts_of(card)[0] == "Où dois-je classer ces 3 fichiers ?"
    assert "a.pdf, b.txt, gone.pdf" in texts_of(card)
    choices = inputs(card)["dossier"]["choices"]
    assert len(choices) == 50
    code = choices[0]["value"]
    async with sessions() as session:
        first = await session.scalar(select(Dossier).where(Dossier.code == code))
    assert first is not None and first.master_id == 1  # her portfolio comes first

    receipt = await post(
        client, fake_bot_connector, user=ADMIN, value=submit(card, dossier=code, folder="Achats")
    )
    texts = texts_of(receipt)
    assert texts[0] == "Certains fichiers n'ont pas pu être classés"
    assert f"Enregistré en version 1 dans {code} / Achats." in texts
    assert "✕ gone.pdf" in texts
    assert (
        "Non classé : Je n'ai pas pu télécharger gone.pdf depuis Teams (le lien a peut-être "
        "expiré). Renvoyez-le, s'il vous plaît." in texts
    )
    assert [(c, n, v) for c, n, v, _, _ in await versions(sessions)] == [
        (code, "a.pdf", 1),
        (code, "b.txt", 1),
    ]


async def test_cancelling_files_nothing_and_a_late_answer_is_told_so(
    client: TestClient,
    fake_bot_connector: FakeBotConnector,
    onedrive: FileServer,
    sessions: Sessions,
) -> None:
    card = await post(
        client, fake_bot_connector, user=ADMIN, locale="en-US",
        files=[file_attachment("a.pdf", onedrive.link("a", PDF))],
    )  # fmt: skip
    cancel = card["actions"][1]
    assert cancel["associatedInputs"] == "none"
    answer = await post(
        client, fake_bot_connector, user=ADMIN, locale="en-US", value=cancel["data"]
    )
    assert texts_of(answer)[:2] == [
        "Nothing filed",
        "OK, I did not file anything. Send the file again whenever you like.",
    ]
    late = await post(
        client, fake_bot_connector, user=ADMIN, locale="en-US",
        value=submit(card, dossier=inputs(card)["dossier"]["choices"][0]["value"], folder="Achats"),
    )  # fmt: skip
    assert texts_of(late)[0] == "No file waiting"
    assert await versions(sessions) == []
    assert onedrive.requests == []


async def test_an_empty_file_is_refused_with_its_reason(
    client: TestClient,
    fake_bot_connector: FakeBotConnector,
    onedrive: FileServer,
    sessions: Sessions,
) -> None:
    card = await post(
        client, fake_bot_connector, user=ADMIN, locale="en-US",
        files=[file_attachment("empty.pdf", onedrive.link("e", b""))],
    )  # fmt: skip
    code = inputs(card)["dossier"]["choices"][0]["value"]
    receipt = await post(
        client, fake_bot_connector, user=ADMIN, locale="en-US",
        value=submit(card, dossier=code, folder="Achats"),
    )  # fmt: skip
    assert texts_of(receipt)[0] == "I could not file it"
    assert "Not filed: empty.pdf is empty." in texts_of(receipt)


async def test_text_commands_still_work_beside_files(
    client: TestClient, fake_bot_connector: FakeBotConnector
) -> None:
    before = len(fake_bot_connector.sent)
    activity = teams_message(
        "help", service_url=fake_bot_connector.url, tenant_id=DEMO_TENANT_ID, user_aad_id=ADMIN,
        locale="en-US",
    )  # fmt: skip
    response = await client.post("/api/messages", json=activity)
    assert response.status in (200, 201)
    (reply,) = (await fake_bot_connector.await_sent(before + 1))[before:]
    assert texts_of(cards_of(reply.body)[0])[0] == "Relais — what I can do"


async def test_downloads_are_bounded_and_only_https_outside_demo_mode(
    onedrive: FileServer,
) -> None:
    async with download_client() as client:
        small = TeamsFiles(client, allow_http=True, max_size=10)
        url = onedrive.link("big", b"x" * 11)
        with pytest.raises(DownloadRefused) as refused:
            await small.download(url)
        assert refused.value.key == "documents.too_large"
        assert await small.download(onedrive.link("ok", b"x" * 10)) == b"x" * 10

        strict = TeamsFiles(client, allow_http=False, max_size=MAX_DOCUMENT_SIZE)
        with pytest.raises(DownloadRefused) as refused:
            await strict.download(onedrive.link("ok"))
        assert refused.value.key == "documents.download_failed"
    assert onedrive.requests == ["big", "ok"]
