"""The one mail transport (connectors/mail.py), chosen by ``RELAIS_MAIL_TRANSPORT``: plain SMTP,
SMTP with an OAuth 2 token (XOAUTH2, as Exchange Online wants it), or Microsoft Graph sendMail.
A collection-email delivery (through the worker) and a notification mail (an application's
deletion told to the dossier masters) go out through each, to the real local fakes: the fake SMTP
server and the fake Entra + Graph, which check the token they are given."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from connectors.collection_email import message_id
from connectors.mail import (
    EntraTokens,
    GraphSendMail,
    Mail,
    Mailer,
    MailError,
    SmtpConfig,
    SmtpTransport,
)
from hub.errors import ConfigurationError
from hub.services import Hub
from hub.settings import Settings
from relais.app import build_worker
from relais.services import build_services
from tests import scenes
from tests.connectors.arrange import PDF, collection_email_delivery, delivery
from tests.fakes.entra import (
    EXCHANGE_AUDIENCE,
    MAIL_SEND_ROLE,
    SMTP_SEND_ROLE,
    FakeEntra,
)
from tests.fakes.smtp import FakeSmtp
from tests.hub.test_applications import give_accesses
from tests.scenes import Office

TENANT = "7a1d1c9e-0b7e-4a57-9d55-3c1f6f0e2a11"
CLIENT = "4f0a6a3e-5a55-4d0c-b1f4-mail00000001"
SECRET = "mail-client-secret-value"
MAILBOX = "relais@cabinet.example"
TRANSPORTS = ("smtp", "smtp_oauth", "graph")


@pytest.fixture
def mail_entra(fake_entra: FakeEntra) -> FakeEntra:
    """Relais' app registration in the firm's own tenant, allowed to send as the mailbox, over
    SMTP and over Graph."""
    fake_entra.add_client(CLIENT, SECRET, home_tenant=TENANT)
    fake_entra.consent(TENANT, CLIENT, (MAIL_SEND_ROLE, SMTP_SEND_ROLE))
    fake_entra.add_user(TENANT, "0c5e1f7b-mailbox", "Relais", MAILBOX)
    return fake_entra


def _settings(settings: Settings, transport: str, smtp: FakeSmtp, entra: FakeEntra) -> Settings:
    return settings.model_copy(
        update={
            "mail_transport": transport,
            "smtp_host": smtp.host,
            "smtp_port": smtp.port,
            "smtp_from": MAILBOX,
            "mail_tenant_id": TENANT,
            "entra_client_id": CLIENT,
            "entra_client_secret": SecretStr(SECRET),
            "entra_authority_host": entra.url,
            "graph_url": entra.graph_url,
        }
    )


def _exchange(entra: FakeEntra, smtp: FakeSmtp) -> None:
    """The fake SMTP server now wants what Exchange Online wants: an app token for
    ``outlook.office365.com`` with ``SMTP.SendAsApp``."""
    smtp.require_oauth(
        lambda user, token: entra.app_token_problem(
            token, audience=EXCHANGE_AUDIENCE, role=SMTP_SEND_ROLE
        )
    )


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def hub(
    transport: str, settings: Settings, sessions: Any, fake_smtp: FakeSmtp, mail_entra: FakeEntra
) -> Hub:
    """Relais with its mail going out through ``transport``, to the fakes."""
    if transport == "smtp_oauth":
        _exchange(mail_entra, fake_smtp)
    return build_services(_settings(settings, transport, fake_smtp, mail_entra), sessions)


async def _arrived(transport: str, smtp: FakeSmtp, entra: FakeEntra, count: int) -> list[Any]:
    """The messages as their recipients get them, whichever way they went."""
    if transport == "graph":
        sent = await entra.sent_mail.await_for(count)
        assert all(s.mailbox == MAILBOX and s.tenant_id == TENANT for s in sent)
        assert all(MAIL_SEND_ROLE in s.claims["roles"] for s in sent)
        assert smtp.messages.items == []
        return [s.message for s in sent]
    received = await smtp.messages.await_for(count)
    if transport == "smtp_oauth":
        logins = smtp.oauth_logins.items
        assert logins and all(login.accepted and login.user == MAILBOX for login in logins)
    return [m.message for m in received]


async def test_a_collection_email_delivery_goes_out_through_the_transport(
    transport: str, hub: Hub, office: Office, fake_smtp: FakeSmtp, mail_entra: FakeEntra
) -> None:
    address, queued = await collection_email_delivery(hub, office)

    async with build_worker(hub) as worker:
        assert (await worker.run_once()).sent == 1
    await hub.mailer.aclose()

    (message,) = await _arrived(transport, fake_smtp, mail_entra, 1)
    assert message["To"] == address and message["From"] == MAILBOX
    assert message["Message-ID"] == message_id(queued.idempotency_key, MAILBOX)
    (attached,) = list(message.iter_attachments())
    assert attached.get_filename() == "Reçu été.pdf" and attached.get_content() == PDF
    done = await delivery(hub.sessions, queued.id)
    assert done.status == "sent" and done.app_reference == message["Message-ID"]


async def test_a_notification_mail_goes_out_through_the_transport(
    transport: str, hub: Hub, office: Office, fake_smtp: FakeSmtp, mail_entra: FakeEntra
) -> None:
    """Deleting a platform application tells the dossier masters by mail: two dossiers with a
    contact each, mastered by two people."""
    from hub import applications as apps

    colleague = await scenes.staff(hub.sessions, office.firm, "collaborator", name="Bruno Colin")
    theirs = await scenes.dossiers(hub.sessions, office.firm, colleague, prefix="COL")
    for dossier in [office.dossier, *theirs]:
        await scenes.contact(hub.sessions, office.firm, dossier)
    admin = await scenes.actor(hub.sessions, office.firm, office.admin)
    added = await apps.add_application(hub, admin, apps.Definition(app="start"))
    masters = set(await give_accesses(hub.sessions, admin.firm_id, added.id, 2))
    done = await apps.delete_application(hub, admin, added.id)
    await hub.mailer.aclose()
    assert (done.mails_sent, done.mail_failures) == (len(masters), [])
    messages = await _arrived(transport, fake_smtp, mail_entra, len(masters))
    assert all(m["From"] == MAILBOX for m in messages)
    assert all("Start" in str(m["Subject"]) for m in messages)


# --------------------------------------------------------------------------- refusals


async def test_exchange_refuses_a_token_for_the_wrong_audience(
    fake_smtp: FakeSmtp, mail_entra: FakeEntra
) -> None:
    """A Graph token is no SMTP token: 535, permanent, and the mail is not accepted."""
    from connectors.graph import GraphClient, GraphConfig

    _exchange(mail_entra, fake_smtp)
    graph_tokens = EntraTokens(
        GraphClient(GraphConfig(CLIENT, SECRET, authority_host=mail_entra.url)), TENANT
    )
    mailer = Mailer(
        SmtpTransport(SmtpConfig(fake_smtp.host, fake_smtp.port, MAILBOX), graph_tokens)
    )
    with pytest.raises(MailError) as refused:
        await mailer.send(Mail(to=("a@b.example",), subject="s", text="t"))
    await mailer.aclose()
    assert refused.value.code == 535 and refused.value.permanent
    (login,) = fake_smtp.oauth_logins.items
    assert not login.accepted and "audience" in login.problem.lower()
    assert fake_smtp.messages.items == []
    # And no login at all is refused too (530).
    plain = Mailer(SmtpConfig(fake_smtp.host, fake_smtp.port, MAILBOX))
    with pytest.raises(MailError) as unauthenticated:
        await plain.send(Mail(to=("a@b.example",), subject="s", text="t"))
    assert unauthenticated.value.code == 530 and unauthenticated.value.permanent


def _graph_mailer(entra: FakeEntra, mailbox: str = MAILBOX, secret: str = SECRET) -> Mailer:
    from connectors.graph import GraphClient, GraphConfig

    tokens = EntraTokens(GraphClient(GraphConfig(CLIENT, secret, authority_host=entra.url)), TENANT)
    return Mailer(GraphSendMail(entra.graph_url, mailbox, tokens))


@pytest.mark.parametrize(
    ("status", "code", "permanent"),
    [
        (429, "ApplicationThrottled", False),
        (503, "ServiceUnavailable", False),
        (500, "InternalServerError", False),
        (403, "ErrorAccessDenied", True),
        (400, "ErrorInvalidRecipients", True),
    ],
)
async def test_graph_errors_are_permanent_or_passing(
    mail_entra: FakeEntra, status: int, code: str, permanent: bool
) -> None:
    mailer = _graph_mailer(mail_entra)
    mail_entra.graph_fail_next(status, code, retry_after="5" if status == 429 else None)
    with pytest.raises(MailError) as failed:
        await mailer.send(Mail(to=("a@b.example",), subject="s", text="t"))
    assert failed.value.status == status and failed.value.permanent is permanent
    assert code in str(failed.value)
    # The next one goes: nothing was half-sent, nothing is stuck.
    await mailer.send(Mail(to=("a@b.example",), subject="again", text="t"))
    (sent,) = mail_entra.sent_mail.items
    assert sent.message["Subject"] == "again"
    await mailer.aclose()


async def test_a_stale_graph_token_is_renewed_once(mail_entra: FakeEntra) -> None:
    """Graph says 401 (the token was revoked, or the roles changed): a new token, one more try."""
    mailer = _graph_mailer(mail_entra)
    await mailer.send(Mail(to=("a@b.example",), subject="first", text="t"))
    tokens = len(mail_entra.tokens.items)
    mail_entra.graph_fail_next(401, "InvalidAuthenticationToken", "Lifetime validation failed")
    await mailer.send(Mail(to=("a@b.example",), subject="second", text="t"))
    await mailer.aclose()
    assert [m.message["Subject"] for m in mail_entra.sent_mail.items] == ["first", "second"]
    assert len(mail_entra.tokens.items) == tokens + 1


async def test_graph_without_mail_send_or_mailbox_is_refused_for_good(
    mail_entra: FakeEntra,
) -> None:
    mail_entra.consent(TENANT, CLIENT, (SMTP_SEND_ROLE,))  # Mail.Send withdrawn
    mailer = _graph_mailer(mail_entra)
    with pytest.raises(MailError) as denied:
        await mailer.send(Mail(to=("a@b.example",), subject="s", text="t"))
    assert denied.value.status == 403 and denied.value.permanent
    await mailer.aclose()
    mail_entra.consent(TENANT, CLIENT, (MAIL_SEND_ROLE,))
    nobody = _graph_mailer(mail_entra, mailbox="nobody@cabinet.example")
    with pytest.raises(MailError) as unknown:
        await nobody.send(Mail(to=("a@b.example",), subject="s", text="t"))
    assert unknown.value.status == 404 and unknown.value.permanent
    await nobody.aclose()


async def test_a_refused_secret_is_permanent_and_never_shown(
    mail_entra: FakeEntra, caplog: pytest.LogCaptureFixture
) -> None:
    mailer = _graph_mailer(mail_entra, secret="wrong-secret-value")
    with pytest.raises(MailError) as refused:
        await mailer.send(Mail(to=("a@b.example",), subject="s", text="t"))
    await mailer.aclose()
    assert refused.value.permanent and "Entra" in str(refused.value)
    good = _graph_mailer(mail_entra)
    await good.send(Mail(to=("a@b.example",), subject="s", text="t"))
    await good.aclose()
    assert len(mail_entra.sent_mail.items) == 1
    token = mail_entra.tokens.items[-1].access_token
    for text in [caplog.text, str(refused.value)]:
        assert "wrong-secret-value" not in text and SECRET not in text and token not in text


async def test_graph_unreachable_is_passing(mail_entra: FakeEntra) -> None:
    from connectors.graph import GraphClient, GraphConfig

    tokens = EntraTokens(
        GraphClient(GraphConfig(CLIENT, SECRET, authority_host=mail_entra.url)), TENANT
    )
    mailer = Mailer(GraphSendMail("https://127.0.0.1:9/v1.0", MAILBOX, tokens, timeout=5))
    with pytest.raises(MailError) as failed:
        await mailer.send(Mail(to=("a@b.example",), subject="s", text="t"))
    await mailer.aclose()
    assert not failed.value.permanent and failed.value.status is None


async def test_a_message_too_large_for_graph_is_refused_before_sending(
    mail_entra: FakeEntra,
) -> None:
    from connectors.mail import Attachment

    mailer = _graph_mailer(mail_entra)
    big = Attachment("scan.pdf", PDF + b"0" * (3_200_000), "application/pdf")
    with pytest.raises(MailError) as refused:
        await mailer.send(Mail(to=("a@b.example",), subject="s", text="t", attachments=(big,)))
    await mailer.aclose()
    assert refused.value.status == 413 and refused.value.permanent
    assert mail_entra.sent_mail.items == []


async def test_smtp_faults_keep_their_meaning(fake_smtp: FakeSmtp) -> None:
    """Plain SMTP as before: nothing listening is a passing fault."""
    mailer = Mailer(SmtpConfig("127.0.0.1", 9, MAILBOX, timeout=5))
    with pytest.raises(MailError) as failed:
        await mailer.send(Mail(to=("a@b.example",), subject="s", text="t"))
    assert failed.value.code is None and not failed.value.permanent


# --------------------------------------------------------------------------- settings


PRODUCTION = {
    "bot_app_id": "8f0e3bd0-bot",
    "bot_app_password": "a-real-bot-secret",
    "entra_client_id": "0b6d-entra",
    "entra_client_secret": "a-real-entra-secret",
    "encryption_key": "0v3pOZpr8xLdrw7mCXSTJ6GHuX3Qjo9yc1ml8Ls1G1Y=",
    "base_url": "https://relais.cabinet.example",
}


def _production(**values: Any) -> Settings:
    return Settings(_env_file=None, **{**PRODUCTION, **values})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"mail_transport": "graph", "smtp_from": MAILBOX}, "RELAIS_MAIL_TENANT_ID"),
        ({"mail_transport": "graph", "mail_tenant_id": TENANT}, "RELAIS_SMTP_FROM"),
        (
            {"mail_transport": "smtp_oauth", "mail_tenant_id": TENANT, "smtp_from": MAILBOX},
            "RELAIS_SMTP_STARTTLS",
        ),
        (
            {
                "mail_transport": "graph",
                "mail_tenant_id": TENANT,
                "smtp_from": MAILBOX,
                "mail_client_secret": "changeme",
            },
            "RELAIS_MAIL_CLIENT_SECRET",
        ),
    ],
)
def test_a_missing_mail_setting_is_refused_at_start(values: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        _production(**values).check_for_serving()
    assert expected in str(refused.value)
    assert "a-real-entra-secret" not in str(refused.value)


def test_complete_mail_settings_start() -> None:
    _production().check_for_serving()  # plain SMTP: nothing more to say
    _production(
        mail_transport="graph", mail_tenant_id=TENANT, smtp_from=MAILBOX
    ).check_for_serving()
    _production(
        mail_transport="smtp_oauth",
        bot_app_type="SingleTenant",
        bot_app_tenant_id=TENANT,  # the bot's home tenant is the mailbox's
        smtp_from=MAILBOX,
        smtp_starttls=True,
        smtp_host="smtp.office365.com",
        smtp_port=587,
    ).check_for_serving()
