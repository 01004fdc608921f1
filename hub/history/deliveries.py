"""A version's deliveries as history shows them: each with its application's label (today's, or
the one it had once deleted), whether it may be sent again, and its attempts."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    CatalogApp,
    Connection,
    Delivery,
    DeliveryAttempt,
    FirmApplication,
)


def application_label() -> ColumnElement[str]:
    """The application's label in a query outer-joined to the delivery's connection, firm
    application and catalog entry: today's, or the one kept on the delivery once the
    application was deleted."""
    return func.coalesce(CatalogApp.label, Delivery.application_label).label("application")


def retryable(delivery: Delivery) -> bool:
    """Failed, and its application is still there to send to."""
    return delivery.status == "failed" and delivery.connection_id is not None


@dataclass(frozen=True)
class AttemptEntry:
    at: datetime
    outcome: str  # sent | refused | fault
    detail: str  # what the application answered


@dataclass(frozen=True)
class DeliveryEntry:
    id: int
    application: str  # the application's label
    queued_at: datetime
    status: str  # pending | sending | sent | failed
    failure_reason: str | None
    app_reference: str
    sent_at: datetime | None
    next_attempt_at: datetime | None  # when pending: the next try
    attempts: list[AttemptEntry]
    may_retry: bool  # failed, and the actor may send it again
    # The application was deleted since: ``application`` is the label it had then.
    application_deleted: bool = False
    # Tries since it was queued or last sent again by a person (``attempts`` lists them all).
    tries: int = 0


async def deliveries_of(
    session: AsyncSession, version_ids: Sequence[int], retry_allowed: bool, *, attempts: bool = True
) -> dict[int, list[DeliveryEntry]]:
    if not version_ids:
        return {}
    rows = (
        await session.execute(
            select(Delivery, application_label())
            .outerjoin(Connection, Connection.id == Delivery.connection_id)
            .outerjoin(FirmApplication, FirmApplication.id == Connection.firm_application_id)
            .outerjoin(CatalogApp, CatalogApp.id == FirmApplication.catalog_app_id)
            .where(Delivery.document_version_id.in_(version_ids))
            .order_by(Delivery.created_at, Delivery.id)
        )
    ).all()
    tries: dict[int, list[AttemptEntry]] = defaultdict(list)
    if attempts and rows:
        for attempt in await session.scalars(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.delivery_id.in_([d.id for d, _ in rows]))
            .order_by(DeliveryAttempt.at, DeliveryAttempt.id)
        ):
            tries[attempt.delivery_id].append(
                AttemptEntry(attempt.at, attempt.outcome, attempt.detail)
            )
    result: dict[int, list[DeliveryEntry]] = defaultdict(list)
    for delivery, label in rows:
        result[delivery.document_version_id].append(
            DeliveryEntry(
                id=delivery.id,
                application=label,
                queued_at=delivery.created_at,
                status=delivery.status,
                failure_reason=delivery.failure_reason,
                app_reference=delivery.app_reference,
                sent_at=delivery.sent_at,
                next_attempt_at=delivery.next_attempt_at if delivery.status == "pending" else None,
                attempts=tries.get(delivery.id, []),
                may_retry=retry_allowed and retryable(delivery),
                application_deleted=delivery.connection_id is None,
                tries=delivery.attempts,
            )
        )
    return result
