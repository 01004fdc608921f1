"""Notification mail over SMTP (aiosmtplib): the one client for outgoing email.

Takes plain values, not settings, so that ``connectors`` depends on nothing but ``storage``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import aiosmtplib

log = logging.getLogger("relais.mail")


class MailError(Exception):
    """The SMTP server refused the message or could not be reached.

    ``code`` is the server's SMTP reply code when it answered (``None`` when it could not be
    reached or timed out): a 5xx code is a permanent refusal, anything else may pass.
    """

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code

    @property
    def permanent(self) -> bool:
        return self.code is not None and 500 <= self.code < 600


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    sender: str
    username: str = ""
    password: str = ""
    starttls: bool = False
    timeout: float = 30.0


@dataclass(frozen=True)
class Attachment:
    filename: str
    data: bytes
    content_type: str = "application/octet-stream"


@dataclass(frozen=True)
class Mail:
    to: tuple[str, ...]
    subject: str
    text: str
    html: str | None = None
    # Stable ids make a retried send recognisable by the receiving side.
    message_id: str | None = None
    attachments: tuple[Attachment, ...] = ()
    # Some applications only accept documents from senders they know: a per-message From.
    sender: str | None = None


class Mailer:
    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    def compose(self, mail: Mail) -> EmailMessage:
        message = EmailMessage()
        sender = mail.sender or self.config.sender
        message["From"] = sender
        message["To"] = ", ".join(mail.to)
        message["Subject"] = mail.subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = mail.message_id or make_msgid(
            domain=sender.rpartition("@")[2] or None
        )
        message.set_content(mail.text)
        if mail.html:
            message.add_alternative(mail.html, subtype="html")
        for attachment in mail.attachments:
            maintype, _, subtype = attachment.content_type.partition("/")
            if not subtype:
                maintype, subtype = "application", "octet-stream"
            message.add_attachment(
                attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename
            )
        return message

    async def send(self, mail: Mail) -> str:
        """Send one message; returns its Message-ID. Raises :class:`MailError`."""
        message = self.compose(mail)
        try:
            await aiosmtplib.send(
                message,
                hostname=self.config.host,
                port=self.config.port,
                username=self.config.username or None,
                password=self.config.password or None,
                start_tls=self.config.starttls,
                timeout=self.config.timeout,
            )
        except (aiosmtplib.SMTPException, OSError) as error:
            log.warning("mail to %d recipient(s) not sent: %s", len(mail.to), error)
            raise MailError(str(error), _reply_code(error)) from error
        return str(message["Message-ID"])


def _reply_code(error: BaseException) -> int | None:
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        # Every recipient was refused; the first code speaks for them.
        return error.recipients[0].code if error.recipients else None
    if isinstance(error, aiosmtplib.SMTPResponseException):
        return int(error.code)
    return None
