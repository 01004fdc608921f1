"""A real SMTP server (aiosmtpd, in its own thread) that records every message it accepts."""

from __future__ import annotations

import email
import email.policy
import socket
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.fakes.recorder import Recorder


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"] or "")

    @property
    def text(self) -> str:
        """The plain-text body (or the HTML one if there is no plain part)."""
        part = self.message.get_body(preferencelist=("plain", "html"))
        return str(part.get_content()) if part is not None else ""


class _Handler:
    def __init__(self, messages: Recorder[ReceivedMail]) -> None:
        self.messages = messages

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content: Any = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode()
        message = email.message_from_bytes(content, policy=email.policy.default)
        self.messages.append(
            ReceivedMail(
                str(envelope.mail_from),
                list(envelope.rcpt_tos),
                message,
            )
        )
        return "250 Message accepted for delivery"


def _free_port() -> int:
    # aiosmtpd's Controller checks readiness by connecting to its port, so it cannot use port 0.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class FakeSmtp:
    """``host``/``port`` for the settings; ``messages`` records what arrived."""

    def __init__(self) -> None:
        self.messages: Recorder[ReceivedMail] = Recorder()
        self.host = "127.0.0.1"
        self.port = _free_port()
        self._controller = Controller(_Handler(self.messages), hostname=self.host, port=self.port)

    def start(self) -> FakeSmtp:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()
