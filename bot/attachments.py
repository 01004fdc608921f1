"""Files people send to the bot in a personal chat (Teams file attachments).

Teams does not put the file in the activity: it stores it in the sender's OneDrive and sends an
attachment of type ``application/vnd.microsoft.teams.file.download.info`` whose
``content.downloadUrl`` is a short-lived, pre-authorised link. The bot downloads it through the one
:class:`connectors.teams_files.TeamsFiles` (bounded by :data:`hub.documents.MAX_DOCUMENT_SIZE`)
and hands it to :func:`hub.documents.receive_document`; a refusal of either becomes the file's
line on the receipt (:func:`bot.errors.reason`).

Where it goes: a person with one dossier and a firm with one top-level folder need no question;
otherwise a card asks which dossier (a contact's linked dossiers, or for staff their portfolio
first then the firm's most recent) and which folder, and the pending files wait in the
conversation state (on the database) until the person answers.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

from botbuilder.core import ConversationState

from bot.cards.documents import CANCEL, PLACE, FileOutcome, notice_card, receipt_card, where_card
from bot.errors import reason
from bot.turn import Turn
from connectors.teams_files import DownloadRefused, TeamsFiles
from hub.documents import receive_document, upload_places
from hub.errors import InvalidInput, RelaisError
from hub.services import Hub

log = logging.getLogger(__name__)

FILE_DOWNLOAD_INFO = "application/vnd.microsoft.teams.file.download.info"
ACTIONS = frozenset({PLACE, CANCEL})
PENDING = "relais.pending_files"


@dataclass(frozen=True)
class IncomingFile:
    name: str
    url: str


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


def inline_images(activity: Any) -> int:
    """How many pictures were pasted into the message (``image/*`` attachments with a
    ``contentUrl``, as Teams sends a photo or a screenshot). Teams serves them from the Bot
    Connector, behind the bot's own token, not as a pre-authorised link like a file: they are not
    taken, and the person is told to attach the picture as a file."""
    return sum(
        1
        for attachment in activity.attachments or []
        if isinstance(attachment.content_type, str)
        and attachment.content_type.lower().startswith("image/")
        and attachment.content_url
    )


def is_file_action(value: object) -> bool:
    verb = value.get("relais") if isinstance(value, dict) else None
    return isinstance(verb, str) and verb in ACTIONS


class FileIntake:
    def __init__(self, hub: Hub, conversation_state: ConversationState, files: TeamsFiles) -> None:
        self.hub = hub
        self.pending = conversation_state.create_property(PENDING)
        self.files = files

    # -- a message with files

    async def receive(self, turn: Turn, files: list[IncomingFile]) -> None:
        places = await upload_places(self.hub, turn.actor)
        if not places.dossiers:
            await turn.send_card(notice_card(turn.t, "documents.no_dossier"))
            return
        if not places.folders:
            await turn.send_card(notice_card(turn.t, "documents.no_folders"))
            return
        if len(places.dossiers) == 1 and len(places.folders) == 1:
            await self._file(turn, files, places.dossiers[0].code, places.folders[0])
            return
        await self.pending.set(turn.context, {"files": [asdict(f) for f in files]})
        dossiers = [(d.code, d.name) for d in places.dossiers]
        card = where_card(turn.t, [f.name for f in files], dossiers, places.folders)
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
            await turn.send_card(notice_card(turn.t, "documents.cancelled"))
            return
        if not files:
            await turn.send_card(notice_card(turn.t, "documents.nothing_pending"))
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
        await turn.send_card(receipt_card(turn.t, outcomes))

    async def _one(
        self, turn: Turn, incoming: IncomingFile, dossier: str, folder: str
    ) -> FileOutcome:
        name = incoming.name or "?"
        try:
            data = await self._download(incoming)
            receipt = await receive_document(
                self.hub, turn.actor, dossier, folder, incoming.name, data, "bot"
            )
        except RelaisError as refused:
            log.info("file from %s refused: %s", turn.actor.ref, refused)
            return FileOutcome(name, "refused", reason=reason(turn.t, refused, name=name))
        return FileOutcome(
            receipt.name,
            "identical" if receipt.duplicate else "stored",
            dossier=dossier,
            folder=folder,
            version=receipt.number,
            deliveries=receipt.deliveries,
        )

    async def _download(self, incoming: IncomingFile) -> bytes:
        """The file's bytes; a refused download is refused like any other file (its reason on
        the receipt)."""
        try:
            return await self.files.download(incoming.url)
        except DownloadRefused as refused:
            raise InvalidInput("download refused", key=refused.key, **refused.params) from None
