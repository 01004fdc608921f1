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
    """The SMTP server refused the message or could not be reached."""


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
class Mail:
    to: tuple[str, ...]
    subject: str
    text: str
    html: str | None = None
    # Stable ids make a retried send recognisable by the receiving side.
    message_id: str | None = None


class Mailer:
    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    def compose(self, mail: Mail) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.config.sender
        message["To"] = ", ".join(mail.to)
        message["Subject"] = mail.subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = mail.message_id or make_msgid(
            domain=self.config.sender.rpartition("@")[2] or None
        )
        message.set_content(mail.text)
        if mail.html:
            message.add_alternative(mail.html, subtype="html")
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
            raise MailError(str(error)) from error
        return str(message["Message-ID"])
