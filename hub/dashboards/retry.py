"""Sending again every failure that matches the dashboard's filters (the "Retry all" button),
through :func:`hub.history.retry_deliveries`."""

from __future__ import annotations

from sqlalchemy import func, select

from hub.dashboards.filters import FailureFilters, conditions
from hub.history import MAX_RETRY, RetryResult, retry_deliveries
from hub.identity import Actor
from hub.rights import require_may_retry_somewhere
from hub.services import Hub
from storage.models import Delivery


async def retry_matching(
    hub: Hub, actor: Actor, filters: FailureFilters, *, cap: int = MAX_RETRY
) -> RetryResult:
    """Send again every failure matching the filters that the actor may retry, newest first, at
    most ``cap`` at once; ``remaining`` says how many more match (run it again for them)."""
    require_may_retry_somewhere(actor)
    cap = max(1, min(cap, MAX_RETRY))
    async with hub.sessions() as session:
        where = await conditions(session, actor, filters, "failed")
        # Those of deleted applications have nowhere to go: they would take the cap for nothing.
        where.append(Delivery.connection_id.is_not(None))
        total = int(
            await session.scalar(select(func.count()).select_from(Delivery).where(*where)) or 0
        )
        ids = list(
            await session.scalars(
                select(Delivery.id)
                .where(*where)
                .order_by(Delivery.created_at.desc(), Delivery.id.desc())
                .limit(cap)
            )
        )
    if not ids:
        return RetryResult(0)
    result = await retry_deliveries(hub, actor, ids)
    return RetryResult(result.retried, result.refused, max(0, total - len(ids)), result.ids)
