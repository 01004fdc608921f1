"""The collection-email connector: the document, attached to a message to the dossier's
collection address, through the one mail transport (:mod:`connectors.mail`)."""

from __future__ import annotations

from connectors import outcomes
from connectors.mail import Attachment, Mail, Mailer, MailError
from connectors.outcomes import Fault, Outcome, Refused, Sent
from connectors.parcel import Parcel

# SMTP reply codes (and Graph's HTTP statuses) that say something precise about the refusal.
_REASONS = {
    550: outcomes.DOSSIER_UNKNOWN,  # mailbox unavailable: the application knows no such address
    551: outcomes.DOSSIER_UNKNOWN,
    553: outcomes.DOSSIER_UNKNOWN,
    552: outcomes.TOO_LARGE,
    535: outcomes.CREDENTIALS_REFUSED,
    530: outcomes.CREDENTIALS_REFUSED,
}
_GRAPH_REASONS = {
    401: outcomes.CREDENTIALS_REFUSED,
    403: outcomes.CREDENTIALS_REFUSED,  # no Mail.Send, or not for this mailbox
    413: outcomes.TOO_LARGE,
    404: outcomes.NOT_CONFIGURED,  # no such sending mailbox
}


def message_id(idempotency_key: str, sender: str) -> str:
    """The same delivery always gets the same Message-ID, so a resend after a crash is
    recognisable by the application (and deduplicated by most mail systems)."""
    domain = sender.rpartition("@")[2].strip(">") or "relais.invalid"
    return f"<{idempotency_key}@{domain}>"


class CollectionEmailConnector:
    def __init__(self, mailer: Mailer, sender: str | None = None) -> None:
        self.mailer = mailer
        self.sender = sender or mailer.sender

    async def send(self, parcel: Parcel) -> Outcome:
        if not parcel.collection_email:
            return Refused(outcomes.NOT_CONFIGURED, "no collection email for this dossier")
        # An application that only accepts known senders names its own in its fields.
        sender = str(parcel.target.specific_fields.get("collection_sender") or self.sender)
        mail = Mail(
            to=(parcel.collection_email,),
            subject=f"{parcel.dossier_code} — {parcel.file_name}",
            text=(
                f"Document: {parcel.file_name}\n"
                f"Dossier: {parcel.dossier_code}\n"
                f"SHA-256: {parcel.sha256}\n"
                "Sent by Relais.\n"
            ),
            message_id=message_id(parcel.idempotency_key, sender),
            attachments=(Attachment(parcel.file_name, parcel.data, parcel.content_type),),
            sender=sender,
        )
        try:
            sent_id = await self.mailer.send(mail)
        except MailError as error:
            detail = str(error)[:2000]
            if error.permanent:
                reason = _REASONS.get(error.code or 0) or _GRAPH_REASONS.get(error.status or 0)
                return Refused(reason or outcomes.REJECTED, detail)
            return Fault(detail)
        return Sent(sent_id, f"accepted for {parcel.collection_email}")
