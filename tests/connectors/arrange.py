"""Arranging what the delivery tests need: applications, connections, an actor, a clock.

The connectors' own tests arrange a small firm (:func:`tests.scenes.office`); the helpers taking a
``DemoInfo`` or a firm id and dossier code serve the tests elsewhere that work on the demo firm.
"""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from hub.documents import receive_document
from hub.identity import Actor, resolve
from hub.services import Hub
from relais.demo import DemoInfo
from storage.db import Sessions
from storage.models import Connection, Delivery, DeliveryAttempt, Dossier
from tests import scenes
from tests.fakes.partner import SANDBOX_KEY_ID, SANDBOX_SECRET
from tests.scenes import Office

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def pdf(tag: str) -> bytes:
    """A small PDF whose bytes differ by ``tag`` (every version its own content)."""
    return PDF + f"% {tag}\n".encode()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class FakeClock:
    """The worker's clock, moved by the test instead of waited for."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC) + timedelta(seconds=1))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


async def actor(hub: Hub, demo: DemoInfo, role: str = "administrator") -> Actor:
    person = demo.person(role)
    return await resolve(hub.sessions, demo.tenant_id, person.object_id)


async def dossier_codes(sessions: Sessions, firm_id: int) -> list[str]:
    async with sessions() as session:
        return list(
            await session.scalars(
                select(Dossier.code)
                .where(Dossier.firm_id == firm_id, Dossier.status == "active")
                .order_by(Dossier.code)
            )
        )


async def add_app(
    hub: Hub,
    firm_id: int,
    slug: str,
    *,
    api_url: str = "",
    api_key_id: str = SANDBOX_KEY_ID,
    secret: str | None = SANDBOX_SECRET,
    limits: dict[str, Any] | None = None,
    fields: dict[str, Any] | None = None,
) -> int:
    """The firm adds catalog application ``slug`` with the partner sandbox's key
    (:func:`tests.scenes.application`); the firm application's id."""
    added = await scenes.application(
        hub,
        firm_id,
        slug,
        api_url=api_url,
        api_key_id=api_key_id,
        secret=secret,
        limits=limits,
        fields=fields,
    )
    return added.id


async def connect(
    sessions: Sessions,
    firm_id: int,
    firm_app_id: int,
    dossier_code: str,
    folders: list[str],
    *,
    code_at_app: str = "",
    collection_email: str = "",
    connected_at: datetime | None = None,
    active: bool = True,
) -> int:
    """The dossier ``dossier_code`` connected for ``folders`` (:func:`tests.scenes.connection`)."""
    async with sessions() as session:
        dossier_id = await session.scalar(
            select(Dossier.id).where(Dossier.firm_id == firm_id, Dossier.code == dossier_code)
        )
    assert dossier_id is not None, dossier_code
    return await scenes.connection(
        sessions,
        firm_id,
        firm_app_id,
        dossier_id,
        folders,
        code_at_app=code_at_app,
        collection_email=collection_email,
        connected_at=connected_at,
        active=active,
    )


async def set_connection_active(sessions: Sessions, connection_id: int, active: bool) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            update(Connection).where(Connection.id == connection_id).values(active=active)
        )


async def deliveries(sessions: Sessions, version_id: int | None = None) -> list[Delivery]:
    async with sessions() as session:
        query = select(Delivery).order_by(Delivery.id)
        if version_id is not None:
            query = query.where(Delivery.document_version_id == version_id)
        return list(await session.scalars(query))


async def delivery(sessions: Sessions, delivery_id: int) -> Delivery:
    async with sessions() as session:
        found = await session.get(Delivery, delivery_id)
        assert found is not None
        return found


async def collection_email_delivery(hub: Hub, office: Office) -> tuple[str, Delivery]:
    """A receipt dropped in "Achats" of a dossier whose purchases go to a collection-email
    application: the dossier's collection address, and the delivery queued for it."""
    code = office.dossier.code
    app = await scenes.application(hub, office.firm.id, "pre-compta-email")
    address = f"{code.lower()}@collecte.example"
    await scenes.connection(
        hub.sessions,
        office.firm.id,
        app.id,
        office.dossier.id,
        ["Achats"],
        collection_email=address,
    )
    admin = await scenes.actor(hub.sessions, office.firm, office.admin)
    receipt = await receive_document(hub, admin, code, "Achats", "Reçu été.pdf", PDF, "bot")
    (queued,) = await deliveries(hub.sessions, receipt.version_id)
    return address, queued


async def attempts(sessions: Sessions, delivery_id: int) -> list[DeliveryAttempt]:
    async with sessions() as session:
        return list(
            await session.scalars(
                select(DeliveryAttempt)
                .where(DeliveryAttempt.delivery_id == delivery_id)
                .order_by(DeliveryAttempt.id)
            )
        )


class Names:
    """A resolver of the test's own: name → addresses; literal addresses as the system reads
    them; any other name the error a real lookup gives. Never asks DNS."""

    def __init__(self, **names: Sequence[str]) -> None:
        self.names = {name.replace("_", "."): list(found) for name, found in names.items()}
        self.asked: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.asked.append((host, port))
        if host in self.names:
            return self.names[host]
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
        return [str(info[4][0]) for info in infos]
