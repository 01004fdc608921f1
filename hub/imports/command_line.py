"""Who acts, and for which firm, when ``relais import`` runs on the server."""

from __future__ import annotations

from sqlalchemy import select

from hub.errors import InvalidInput, NotFound
from hub.identity import Actor
from hub.services import Hub
from storage.models import Firm


def command_line_actor(firm: Firm) -> Actor:
    """Whoever runs ``relais import`` on the server already holds the database; they act as the
    system, which the audit trail records as such."""
    return Actor(
        firm_id=firm.id,
        firm_name=firm.name,
        kind="system",
        id=0,
        display_name="relais import",
        locale=firm.default_locale,
    )


async def firm_for_command_line(hub: Hub, tenant_id: str | None) -> Firm:
    """The firm of ``--tenant``; without it, the only firm (several firms need the option)."""
    async with hub.sessions() as session:
        if tenant_id:
            firm = await session.scalar(select(Firm).where(Firm.tenant_id == tenant_id))
            if firm is None:
                raise NotFound(f"no firm has tenant id {tenant_id}")
            return firm
        firms = list(await session.scalars(select(Firm).order_by(Firm.id).limit(2)))
    if not firms:
        raise NotFound("there is no firm in this database yet")
    if len(firms) > 1:
        raise InvalidInput("several firms share this database: choose one with --tenant TENANT_ID")
    return firms[0]
