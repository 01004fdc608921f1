"""Arranging tests that reach Microsoft Graph: settings wired to the fake Entra + Graph, a hub
whose Graph client never really sleeps, and the firm's consent state."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr
from sqlalchemy import update

from connectors.graph import GraphClient
from hub.services import Hub
from hub.settings import Settings
from relais.services import build_services
from storage.db import Sessions
from storage.models import Firm
from tests.fakes.entra import DEFAULT_GRAPH_ROLES, FakeEntra

CLIENT_ID = "33333333-4444-4555-8666-777777777777"
CLIENT_SECRET = "relais-graph-secret"


class Sleeps:
    """An injected ``sleep`` that records the waits instead of waiting."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def entra_settings(settings: Settings, fake_entra: FakeEntra) -> Settings:
    """``settings`` with Relais' Entra app registered at the fake and Graph pointing at it."""
    fake_entra.add_client(CLIENT_ID, CLIENT_SECRET)
    return settings.model_copy(
        update={
            "entra_client_id": CLIENT_ID,
            "entra_client_secret": SecretStr(CLIENT_SECRET),
            "entra_authority_host": fake_entra.url,
            "graph_url": fake_entra.graph_url,
        }
    )


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def ghub(entra_settings: Settings, sessions: Sessions, sleeps: Sleeps) -> AsyncIterator[Hub]:
    """The hub on the test database, its Graph client at the fake, retries without waiting."""
    built = build_services(entra_settings, sessions)
    hub = dataclasses.replace(
        built, graph=GraphClient(built.graph.config, sleep=sleeps, jitter=lambda: 1.0)
    )
    yield hub
    await hub.graph.aclose()


async def set_consent(
    sessions: Sessions,
    fake_entra: FakeEntra,
    firm_id: int,
    tenant_id: str,
    roles: tuple[str, ...] | None = DEFAULT_GRAPH_ROLES,
) -> None:
    """The firm's consent, recorded as granted and (unless ``roles`` is None) real at Entra."""
    if roles is not None:
        fake_entra.consent(tenant_id, CLIENT_ID, roles)
    async with sessions() as session, session.begin():
        await session.execute(
            update(Firm).where(Firm.id == firm_id).values(consent_state="granted")
        )
