"""A real SMTP server (aiosmtpd, in its own thread) that records every message it accepts.

After :meth:`FakeSmtp.require_oauth` it behaves like Exchange Online with OAuth: it takes
``AUTH XOAUTH2`` only (``user=…^Aauth=Bearer <token>^A^A``), asks the given check whether the
bearer token will do (535 when it will not), refuses mail from a client that did not authenticate
(530), and records every login in :attr:`FakeSmtp.oauth_logins`.
"""

from __future__ import annotations

import base64
import binascii
import collections
import email
import email.policy
import socket
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

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


@dataclass(frozen=True)
class OAuthLogin:
    user: str
    token: str
    accepted: bool
    problem: str = ""  # why the token was refused


# (user, bearer token) -> None when the token will do, else what is wrong with it.
TokenCheck = Callable[[str, str], str | None]


class _Handler:
    def __init__(self, messages: Recorder[ReceivedMail]) -> None:
        self.messages = messages
        self.logins: Recorder[OAuthLogin] = Recorder()
        self.token_check: TokenCheck | None = None

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        """SASL XOAUTH2 with the initial response on the AUTH line, as Microsoft expects."""
        refused = AuthResult(
            success=False, handled=False, message="535 5.7.3 Authentication unsuccessful"
        )
        if self.token_check is None or len(args) < 2:
            return refused
        try:
            fields = base64.b64decode(args[1], validate=True).decode().split("\x01")
        except (binascii.Error, UnicodeDecodeError):
            return refused
        values = dict(f.partition("=")[::2] for f in fields if f)
        user, auth = values.get("user", ""), values.get("auth", "")
        token = auth[len("Bearer ") :] if auth.startswith("Bearer ") else ""
        problem = self.token_check(user, token) if token else "no bearer token"
        self.logins.append(OAuthLogin(user, token, problem is None, problem or ""))
        if problem is not None:
            return refused
        return AuthResult(success=True, auth_data=user)

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.token_check is not None and not session.authenticated:
            return "530 5.7.57 Client not authenticated to send mail"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

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


class _Server(SMTP):
    """aiosmtpd's SMTP, taking an AUTH line as long as a bearer token (RFC 4954 allows 12,288
    octets; aiosmtpd's default of 512 is for ordinary commands)."""

    line_length_limit = 16 * 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limits: collections.defaultdict[str, int] = collections.defaultdict(
            lambda: SMTP.command_size_limit
        )
        limits["AUTH"] = self.line_length_limit
        self.command_size_limits = limits


class _Controller(Controller):
    def factory(self) -> SMTP:
        return _Server(self.handler, **self.SMTP_kwargs)


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
        self._handler = _Handler(self.messages)
        self.oauth_logins = self._handler.logins
        # AUTH is offered without TLS: the tests talk to it on 127.0.0.1.
        self._controller = _Controller(
            self._handler, hostname=self.host, port=self.port, auth_require_tls=False
        )

    def require_oauth(self, check: TokenCheck) -> None:
        """From now on only clients that log in with ``AUTH XOAUTH2`` and a token ``check``
        accepts may send."""
        self._handler.token_check = check

    def start(self) -> FakeSmtp:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()
