"""Outgoing mail: the one client for every email Relais sends (notifications, collection-email
deliveries), whatever carries it.

:class:`Mailer` composes the MIME message once; a transport sends it (the same seam as httpx's
transports):

* :class:`SmtpTransport`: SMTP with aiosmtplib, with a password (or none, on a trusted relay), or
  with an OAuth 2 token (``AUTH XOAUTH2``) when given a token source, as Exchange Online requires
  once it switches basic authentication off;
* :class:`GraphSendMail`: Microsoft Graph ``POST /users/{mailbox}/sendMail`` with the MIME
  message itself (base64, ``text/plain``), so attachments and the Message-ID (the idempotency key
  of a collection-email delivery) are those composed here.

Tokens come from :class:`EntraTokens`: msal client credentials through
:class:`connectors.graph.GraphClient` (its token cache, msal called off the event loop). Takes
plain values, not settings, so that ``connectors`` depends on nothing but ``storage``. Neither
passwords nor tokens are ever logged or put in an error's text.
"""

from __future__ import annotations

import base64
import email.policy
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Protocol
from urllib.parse import quote

import aiosmtplib
import httpx

from connectors.graph import GraphClient, GraphError, _verify

log = logging.getLogger(__name__)

SMTP_SCOPE = "https://outlook.office365.com/.default"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
# Graph refuses request bodies over 4 MB; the base64 MIME must fit (about 3 MB of attachments).
GRAPH_MAX_BODY = 4 * 1024 * 1024
_AUTH_CONTINUE, _AUTH_OK = 334, 235


class MailError(Exception):
    """The message could not be handed over.

    ``code`` is the SMTP server's reply code when it answered, ``status`` the HTTP status when
    Graph did (both ``None`` when nothing answered, or on a timeout). ``permanent``: sending the
    same message again will not help (an SMTP 5xx, a Graph 4xx other than 429, a refused
    credential); otherwise the fault may pass.
    """

    def __init__(
        self,
        message: str,
        code: int | None = None,
        *,
        status: int | None = None,
        permanent: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self._permanent = permanent

    @property
    def permanent(self) -> bool:
        if self._permanent is not None:
            return self._permanent
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


# An OAuth 2 access token, fetched (or taken from a cache) at each call.
TokenSource = Callable[[], Awaitable[str]]


class MailTransport(Protocol):
    """Hands a composed message over. ``sender`` is the default From (the mailbox)."""

    @property
    def sender(self) -> str: ...

    async def send(self, message: EmailMessage) -> None:
        """Raises :class:`MailError`."""

    async def aclose(self) -> None: ...


class EntraTokens:
    """App-only tokens for the mailbox's tenant (client credentials, msal's cache) for one scope:
    :data:`SMTP_SCOPE` or :data:`GRAPH_SCOPE`."""

    def __init__(self, graph: GraphClient, tenant: str) -> None:
        self.graph = graph
        self.tenant = tenant

    async def __call__(self) -> str:
        try:
            return await self.graph.token(self.tenant)
        except GraphError as error:
            # An unknown client, a wrong secret or a missing consent will not fix themselves.
            raise MailError(
                f"no token from Microsoft Entra: {error.status or '-'} {error.code}",
                status=error.status or None,
                permanent=not error.passing,
            ) from error

    def forget(self) -> None:
        self.graph.forget_tokens(self.tenant)

    async def aclose(self) -> None:
        await self.graph.aclose()


class SmtpTransport:
    """SMTP, one connection per message. With ``token`` it authenticates with ``AUTH XOAUTH2``
    as ``config.username`` (or the sender) instead of a password."""

    def __init__(self, config: SmtpConfig, token: TokenSource | None = None) -> None:
        self.config = config
        self.token = token

    @property
    def sender(self) -> str:
        return self.config.sender

    async def send(self, message: EmailMessage) -> None:
        config = self.config
        client = aiosmtplib.SMTP(
            hostname=config.host,
            port=config.port,
            timeout=config.timeout,
            start_tls=config.starttls,
        )
        try:
            async with client:
                if self.token is not None:
                    await self._xoauth2(client, config.username or config.sender)
                elif config.username:
                    await client.login(config.username, config.password)
                await client.send_message(message)
        except (aiosmtplib.SMTPException, OSError) as error:
            raise MailError(f"SMTP: {error}", _reply_code(error)) from error

    async def _xoauth2(self, client: aiosmtplib.SMTP, user: str) -> None:
        assert self.token is not None
        token = await self.token()
        # RFC 7628 / Microsoft's SASL XOAUTH2: user=…^Aauth=Bearer …^A^A, base64.
        raw = f"user={user}\x01auth=Bearer {token}\x01\x01".encode()
        await client.ehlo()
        response = await client.execute_command(b"AUTH", b"XOAUTH2", base64.b64encode(raw))
        if response.code == _AUTH_CONTINUE:
            # The server put its error in a challenge; an empty line gets the final answer.
            response = await client.execute_command(b"")
        if response.code != _AUTH_OK:
            forget = getattr(self.token, "forget", None)
            if forget is not None:
                forget()  # the next message asks Entra for a new token
            raise aiosmtplib.SMTPAuthenticationError(response.code, response.message)

    async def aclose(self) -> None:
        closer = getattr(self.token, "aclose", None)
        if closer is not None:
            await closer()


class GraphSendMail:
    """Microsoft Graph ``sendMail`` from ``mailbox`` (needs the ``Mail.Send`` application
    permission, which an application access policy should restrict to that mailbox). 202 is
    sent; a 401 is tried once more with a new token."""

    def __init__(
        self,
        graph_url: str,
        mailbox: str,
        token: EntraTokens | TokenSource,
        *,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.graph_url = graph_url.rstrip("/")
        self.mailbox = mailbox
        self.token = token
        self.timeout = timeout
        self._transport = transport
        self._http: httpx.AsyncClient | None = None

    @property
    def sender(self) -> str:
        return self.mailbox

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                verify=_verify(),
                timeout=httpx.Timeout(self.timeout, connect=min(10.0, self.timeout)),
                transport=self._transport,
            )
        return self._http

    async def send(self, message: EmailMessage) -> None:
        body = base64.b64encode(message.as_bytes(policy=email.policy.SMTP))
        if len(body) > GRAPH_MAX_BODY:
            raise MailError(
                f"Graph sendMail: the message is {len(body)} bytes in base64, over Graph's "
                f"{GRAPH_MAX_BODY}",
                status=413,
                permanent=True,
            )
        url = f"{self.graph_url}/users/{quote(self.mailbox, safe='@')}/sendMail"
        for renewed in (False, True):
            token = await self.token()
            try:
                response = await self._client().post(
                    url,
                    content=body,
                    headers={"Authorization": f"Bearer {token}", "Content-Type": "text/plain"},
                )
            except httpx.TimeoutException as error:
                raise MailError(f"Graph sendMail: no answer in time ({error})") from error
            except httpx.TransportError as error:
                raise MailError(f"Graph sendMail: unreachable ({error})") from error
            if response.status_code < 300:
                return
            if response.status_code == 401 and not renewed and isinstance(self.token, EntraTokens):
                self.token.forget()
                continue
            break
        raise _graph_refusal(response)

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        closer = getattr(self.token, "aclose", None)
        if closer is not None:
            await closer()


def _graph_refusal(response: httpx.Response) -> MailError:
    code, message = "", ""
    try:
        error = response.json().get("error") or {}
        code, message = str(error.get("code") or ""), str(error.get("message") or "")
    except (ValueError, AttributeError):
        message = response.text[:300]
    status = response.status_code
    passing = status == 429 or status >= 500
    return MailError(
        f"Graph sendMail {status} {code}: {message}".strip(), status=status, permanent=not passing
    )


class Mailer:
    """Composes each message once (From, Message-ID, text and HTML, attachments) and hands it to
    the transport. Built from an :class:`SmtpConfig` it sends over plain SMTP, as before."""

    def __init__(self, transport: MailTransport | SmtpConfig) -> None:
        self.transport: MailTransport = (
            SmtpTransport(transport) if isinstance(transport, SmtpConfig) else transport
        )

    @property
    def sender(self) -> str:
        return self.transport.sender

    def compose(self, mail: Mail) -> EmailMessage:
        message = EmailMessage()
        sender = mail.sender or self.sender
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
            await self.transport.send(message)
        except MailError as error:
            log.warning("mail to %d recipient(s) not sent: %s", len(mail.to), error)
            raise
        return str(message["Message-ID"])

    async def aclose(self) -> None:
        await self.transport.aclose()


def _reply_code(error: BaseException) -> int | None:
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        # Every recipient was refused; the first code speaks for them.
        return error.recipients[0].code if error.recipients else None
    if isinstance(error, aiosmtplib.SMTPResponseException):
        return int(error.code)
    return None
