"""Files people send to the bot in a personal chat (Teams file attachments).

Teams does not put the file in the activity: it stores it in the sender's OneDrive and sends an
attachment of type ``application/vnd.microsoft.teams.file.download.info`` whose
``content.downloadUrl`` is a short-lived, pre-authorised link (no bot token is sent with it). The
bot downloads it, bounded by :data:`hub.documents.MAX_DOCUMENT_SIZE`, and hands it to
:func:`hub.documents.receive_document`.

Where it goes: a person with one dossier and a firm with one top-level folder need no question;
otherwise a card asks which dossier (a contact's linked dossiers, or for staff their portfolio
first then the firm's most recent) and which folder, and the pending files wait in the
conversation state (on the database) until the person answers.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

import httpx
from botbuilder.core import ConversationState

from bot.cards.documents import CANCEL, PLACE, FileOutcome, notice_card, receipt_card, where_card
from bot.commands import Turn
from hub.documents import MAX_DOCUMENT_SIZE, receive_document
from hub.errors import RelaisError
from hub.folders_view import upload_places
from hub.services import Hub

log = logging.getLogger("relais.bot.files")

FILE_DOWNLOAD_INFO = "application/vnd.microsoft.teams.file.download.info"
ACTIONS = frozenset({PLACE, CANCEL})
PENDING = "relais.pending_files"
CHUNK = 64 * 1024
DOWNLOAD_TIMEOUT = 60.0


@dataclass(frozen=True)
class IncomingFile:
    name: str
    url: str


class DownloadRefused(Exception):
    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


def files_of(activity: Any) -> list[IncomingFile]:
    """The files attached to a Teams message (other attachments, like the HTML copy of the
    message text, are not files)."""
    found: list[IncomingFile] = []
    for attachment in activity.attachments or []:
        if attachment.content_type != FILE_DOWNLOAD_INFO:
            continue
        content = attachment.content if isinstance(attachment.content, dict) else {}
        url = content.get("downloadUrl")
        if isinstance(url, str) and url:
            found.append(IncomingFile(attachment.name or "", url))
    return found


def is_file_action(value: object) -> bool:
    return isinstance(value, dict) and value.get("relais") in ACTIONS


def _reason(turn: Turn, key: str, params: dict[str, Any]) -> str:
    params = dict(params)
    if isinstance(params.get("limit"), int):
        params["limit"] = f"{params['limit'] // (1024 * 1024)} MB"
    try:
        return turn.t(key, **params)
    except (KeyError, IndexError, ValueError):
        return turn.t(key, why="")


class FileIntake:
    def __init__(
        self,
        hub: Hub,
        conversation_state: ConversationState,
        *,
        allow_http: bool = False,
        max_size: int = MAX_DOCUMENT_SIZE,
    ) -> None:
        self.hub = hub
        self.pending = conversation_state.create_property(PENDING)
        self.allow_http = allow_http
        self.max_size = max_size

    # -- a message with files

    async def receive(self, turn: Turn, files: list[IncomingFile]) -> None:
        places = await upload_places(self.hub, turn.actor)
        if not places.dossiers:
            await turn.send_card(notice_card(turn.t, turn.lang, "documents.no_dossier"))
            return
        if not places.folders:
            await turn.send_card(notice_card(turn.t, turn.lang, "documents.no_folders"))
            return
        if len(places.dossiers) == 1 and len(places.folders) == 1:
            await self._file(turn, files, places.dossiers[0].code, places.folders[0])
            return
        await self.pending.set(turn.context, {"files": [asdict(f) for f in files]})
        dossiers = [(d.code, d.name) for d in places.dossiers]
        card = where_card(turn.t, turn.lang, [f.name for f in files], dossiers, places.folders)
        await turn.send_card(card)

    # -- the answer to the "where?" card

    async def choose(self, turn: Turn, value: dict[str, Any]) -> None:
        stored = await self.pending.get(turn.context, None)
        if stored is not None:
            await self.pending.delete(turn.context)
        files = [
            IncomingFile(str(f.get("name", "")), str(f.get("url", "")))
            for f in (stored or {}).get("files", [])
            if isinstance(f, dict)
        ]
        if value.get("relais") == CANCEL:
            await turn.send_card(notice_card(turn.t, turn.lang, "documents.cancelled"))
            return
        if not files:
            await turn.send_card(notice_card(turn.t, turn.lang, "documents.nothing_pending"))
            return
        dossier, folder = str(value.get("dossier") or ""), str(value.get("folder") or "")
        if not dossier or not folder:
            # Teams checks the required inputs; a client that does not is asked again.
            await self.pending.set(turn.context, stored)
            await self.receive(turn, files)
            return
        await self._file(turn, files, dossier, folder)

    # -- storing

    async def _file(self, turn: Turn, files: list[IncomingFile], dossier: str, folder: str) -> None:
        outcomes: list[FileOutcome] = []
        for incoming in files:
            outcomes.append(await self._one(turn, incoming, dossier, folder))
        await turn.send_card(receipt_card(turn.t, turn.lang, outcomes))

    async def _one(
        self, turn: Turn, incoming: IncomingFile, dossier: str, folder: str
    ) -> FileOutcome:
        name = incoming.name or "?"
        try:
            data = await self._download(incoming)
            receipt = await receive_document(
                self.hub, turn.actor, dossier, folder, incoming.name, data, "bot"
            )
        except DownloadRefused as refused:
            reason = _reason(turn, refused.key, {"name": name, **refused.params})
            return FileOutcome(name, "refused", reason=reason)
        except RelaisError as refused:
            log.info("file from %s refused: %s", turn.actor.ref, refused)
            reason = _reason(turn, refused.key, {"name": name, **refused.params})
            return FileOutcome(name, "refused", reason=reason)
        return FileOutcome(
            receipt.name,
            "identical" if receipt.duplicate else "stored",
            dossier=dossier,
            folder=folder,
            version=receipt.number,
            deliveries=receipt.deliveries,
        )

    async def _download(self, incoming: IncomingFile) -> bytes:
        url = httpx.URL(incoming.url)
        if url.scheme != "https" and not (self.allow_http and url.scheme == "http"):
            raise DownloadRefused("documents.download_failed")
        size = 0
        parts: list[bytes] = []
        try:
            async with (
                httpx.AsyncClient(timeout=DOWNLOAD_TIMEOUT, follow_redirects=True) as client,
                client.stream("GET", url) as response,
            ):
                if response.status_code != 200:
                    log.info("file download answered %s", response.status_code)
                    raise DownloadRefused("documents.download_failed")
                announced = response.headers.get("Content-Length", "")
                if announced.isdigit() and int(announced) > self.max_size:
                    raise DownloadRefused("documents.too_large", limit=self.max_size)
                async for chunk in response.aiter_bytes(CHUNK):
                    size += len(chunk)
                    if size > self.max_size:
                        raise DownloadRefused("documents.too_large", limit=self.max_size)
                    parts.append(chunk)
        except httpx.HTTPError as error:
            # The link's query string is a credential: log the kind of failure, not the URL.
            log.info("file download failed: %s", type(error).__name__)
            raise DownloadRefused("documents.download_failed") from None
        return b"".join(parts)
