"""Sending failed deliveries again: back to ``pending``, due now, with a fresh budget of tries,
one transaction and one audit event; the worker is woken."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.audit import record
from hub.errors import InvalidInput, PermissionDenied
from hub.identity import Actor
from hub.rights import may_retry, require_may_retry_somewhere
from hub.services import Hub
from storage.models import Delivery, Dossier

# How many deliveries one "retry" may touch at once (a batch of ids, or "all matching").
MAX_RETRY = 1000


@dataclass(frozen=True)
class RetryResult:
    retried: int
    # Failed deliveries asked for but left alone: on dossiers the actor may not act on.
    refused: int = 0
    # "All matching": more matched than one retry may take; run it again for the rest.
    remaining: int = 0
    ids: list[int] = field(default_factory=list)


async def retry(hub: Hub, actor: Actor, delivery_ids: Iterable[int]) -> int:
    """Send failed deliveries again: back to ``pending``, due now, with a fresh budget of tries
    (the attempt history is kept). Only failed ones, of dossiers the actor may act on
    (:func:`~hub.rights.may_retry`); the others are left alone. Refused outright
    (PermissionDenied) when none of the failed ones asked for may be retried by this person.
    Returns how many were set back to pending."""
    return (await retry_deliveries(hub, actor, delivery_ids)).retried


async def retry_deliveries(hub: Hub, actor: Actor, delivery_ids: Iterable[int]) -> RetryResult:
    """:func:`retry`, saying also how many were refused. One transaction, one audit event."""
    require_may_retry_somewhere(actor)
    wanted = sorted({int(i) for i in delivery_ids})
    if len(wanted) > MAX_RETRY:
        raise InvalidInput(
            f"{len(wanted)} deliveries at once", key="history.retry_too_many", maximum=MAX_RETRY
        )
    if not wanted:
        return RetryResult(0)
    async with hub.sessions() as session, session.begin():
        rows = (
            await session.execute(
                select(Delivery.id, Dossier)
                .join(Dossier, Dossier.id == Delivery.dossier_id)
                .where(
                    Delivery.id.in_(wanted),
                    Delivery.firm_id == actor.firm_id,
                    Delivery.status == "failed",
                    # Nothing to send to once the application is deleted.
                    Delivery.connection_id.is_not(None),
                )
            )
        ).all()
        allowed = [delivery_id for delivery_id, dossier in rows if may_retry(actor, dossier)]
        refused = len(rows) - len(allowed)
        if refused and not allowed:
            raise PermissionDenied(
                f"{actor.ref} may not retry deliveries {wanted}", key="history.retry_denied"
            )
        if not allowed:
            return RetryResult(0)
        done = await _set_pending(session, allowed)
        record(
            session,
            actor.firm_id,
            actor.ref,
            "deliveries.retried",
            "delivery",
            allowed[0] if len(allowed) == 1 else "",
            count=done,
            ids=allowed[:100],
        )
    if done:
        hub.deliveries_queued.ring()
    return RetryResult(done, refused, 0, allowed)


async def _set_pending(session: AsyncSession, ids: Sequence[int]) -> int:
    now = datetime.now(UTC)
    done = 0
    for start in range(0, len(ids), 500):
        result = await session.execute(
            update(Delivery)
            .where(Delivery.id.in_(ids[start : start + 500]), Delivery.status == "failed")
            .values(
                status="pending",
                next_attempt_at=now,
                lease_until=None,
                failure_reason=None,
                # A fresh budget of tries once the cause is fixed; the earlier ones stay in the
                # delivery's attempt rows (its history).
                attempts=0,
            )
            .execution_options(synchronize_session=False)
        )
        done += int(getattr(result, "rowcount", 0) or 0)
    return done
