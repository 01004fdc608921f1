"""What a use-case needs besides the acting person: the database, the settings and the clients.

Built once by the composition root (:func:`relais.services.build_services`) and given to every
face; tests build their own the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from connectors.graph import GraphClient
from connectors.mail import Mailer
from hub.ports import TeamsPort
from hub.settings import Settings
from hub.signals import Signal
from hub.vault import Vault
from storage.blobs import Blobs
from storage.db import Sessions


@dataclass(frozen=True)
class Hub:
    settings: Settings
    sessions: Sessions
    vault: Vault
    mailer: Mailer
    # Microsoft Graph for every firm's tenant; opens no connection until first used.
    graph: GraphClient
    # The document files (RELAIS_BLOB_URL): the local folder, or a container every process shares.
    blobs: Blobs
    # Rung whenever deliveries are queued (an upload from any face, a retry): the delivery worker
    # of this process listens, so it sends at once instead of at its next poll.
    deliveries_queued: Signal = field(default_factory=Signal)
    # Sends cards to people in Teams (the bot's, built by the composition root); None when this
    # server runs no bot: offers then stay pending.
    teams: TeamsPort | None = None

    async def aclose(self) -> None:
        """Close the clients' connections (whoever built the services closes them)."""
        await self.graph.aclose()
        await self.mailer.aclose()
        await self.blobs.aclose()
