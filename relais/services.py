"""The factory of the hub's services: settings in, clients out (nothing is opened until used)."""

from __future__ import annotations

from connectors.graph import GRAPH_SCOPE, GraphClient, GraphConfig
from connectors.mail import EntraTokens, GraphSendMail, Mailer, SmtpConfig, SmtpTransport
from hub.documents import blob_store
from hub.errors import ConfigurationError
from hub.offers import TeamsPort
from hub.services import Hub
from hub.settings import Settings
from hub.vault import Vault
from storage.blobs import Blobs, BlobStoreMisconfigured
from storage.db import Sessions


def build_services(
    settings: Settings, sessions: Sessions, *, teams: TeamsPort | None = None
) -> Hub:
    """The hub's services; ``teams`` is the bot's Teams port (:func:`bot.connect`), when this
    server runs the bot."""
    return Hub(
        settings=settings,
        sessions=sessions,
        vault=Vault.from_settings(settings),
        mailer=build_mailer(settings),
        graph=_graph_client(
            settings, settings.entra_client_id, settings.entra_client_secret.get_secret_value()
        ),
        blobs=blob_store(settings),
        teams=teams,
    )


async def check_blobs(blobs: Blobs) -> None:
    """Refuse to start on a blob store that cannot be used (a refused key, an unreachable
    account); a missing folder or container is created."""
    try:
        await blobs.check()
    except BlobStoreMisconfigured as error:
        raise ConfigurationError(f"RELAIS_BLOB_URL: {error}.") from None


def _graph_client(
    settings: Settings, client_id: str, client_secret: str, scope: str = GRAPH_SCOPE
) -> GraphClient:
    """A Graph client of this app registration, at the configured Entra and Graph addresses."""
    return GraphClient(
        GraphConfig(
            client_id=client_id,
            client_secret=client_secret,
            authority_host=settings.entra_authority_host,
            graph_url=settings.graph_url,
            scope=scope,
            ca_bundle=settings.ca_bundle,
        )
    )


def build_mailer(settings: Settings) -> Mailer:
    """The one mail transport (``RELAIS_MAIL_TRANSPORT``), shared by notifications and the
    collection-email deliveries. OAuth tokens come from msal through a
    :class:`~connectors.graph.GraphClient` of its own (its scope is the mail one)."""
    smtp = SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        sender=settings.smtp_from,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value(),
        starttls=settings.smtp_starttls,
    )
    if settings.mail_transport == "smtp":
        return Mailer(SmtpTransport(smtp))
    tenant, client_id, secret, scope = settings.mail_oauth
    tokens = EntraTokens(_graph_client(settings, client_id, secret, scope), tenant)
    if settings.mail_transport == "smtp_oauth":
        return Mailer(SmtpTransport(smtp, tokens))
    return Mailer(GraphSendMail(settings.graph_url, settings.smtp_from, tokens))
