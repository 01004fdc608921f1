"""What a use-case needs besides the acting person: the database, the settings and the clients.

Built once by the composition root (``hub/app.py``) and given to both faces through the
``HUB`` app key; tests build their own with :func:`build_services`.
"""

from __future__ import annotations

from dataclasses import dataclass

from connectors.graph import GraphClient, GraphConfig
from connectors.mail import Mailer, SmtpConfig
from hub.settings import Settings
from hub.vault import Vault
from storage.db import Sessions


@dataclass(frozen=True)
class Hub:
    settings: Settings
    sessions: Sessions
    vault: Vault
    mailer: Mailer
    # Microsoft Graph for every firm's tenant; opens no connection until first used.
    graph: GraphClient


def build_services(settings: Settings, sessions: Sessions) -> Hub:
    return Hub(
        settings=settings,
        sessions=sessions,
        vault=Vault(settings.fernet_key()),
        mailer=Mailer(
            SmtpConfig(
                host=settings.smtp_host,
                port=settings.smtp_port,
                sender=settings.smtp_from,
                username=settings.smtp_username,
                password=settings.smtp_password.get_secret_value(),
                starttls=settings.smtp_starttls,
            )
        ),
        graph=GraphClient(
            GraphConfig(
                client_id=settings.entra_client_id,
                client_secret=settings.entra_client_secret.get_secret_value(),
                authority_host=settings.entra_authority_host,
                graph_url=settings.graph_url,
            )
        ),
    )
