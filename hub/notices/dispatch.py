"""The dispatcher's side: which notices are due this round (after settling the failures nobody is
to be told of), and marking them told once sent.

"Failed and not yet told" is read through the partial index ``ix_delivery_unnotified``, so a
round costs what the untold backlog costs, not what the delivery table weighs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.audit import record
from hub.notices.choice import DAILY, IMMEDIATE
from hub.notices.notice import MAX_LISTED, FailureNotice, NoticeItem, NoticeRound
from hub.notices.timing import burst_over, digest_due
from hub.rounds import NOTICES, exclusive_round
from hub.services import Hub
from storage.models import (
    Delivery,
    Document,
    DocumentVersion,
    Dossier,
    StaffUser,
)

log = logging.getLogger(__name__)

# Untold this long after failing, a failure is settled without a message.
MAX_AGE = timedelta(days=7)
# Failures one notice covers; a larger burst is told over the next rounds.
MAX_PER_NOTICE = 5000
CHUNK = 500


def _untold() -> list[ColumnElement[bool]]:
    # Written exactly as the partial index's WHERE, so both backends use it.
    return [Delivery.status == "failed", Delivery.notified_at.is_(None)]


def notice_round(hub: Hub) -> AbstractAsyncContextManager[bool]:
    """Whether this process tells this round (one ``relais serve`` of several does)."""
    return exclusive_round(hub, NOTICES)


@dataclass
class _Master:
    firm_id: int
    master_id: int
    name: str
    locale: str
    mode: str
    active: bool
    last_digest_at: datetime | None
    dossiers: list[int] = field(default_factory=list)

    @property
    def listening(self) -> bool:
        return self.active and self.mode in (IMMEDIATE, DAILY)


async def _settle(
    session: AsyncSession, where: Sequence[ColumnElement[bool]], now: datetime
) -> int:
    result = await session.execute(
        update(Delivery)
        .where(*_untold(), *where)
        .values(notified_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _chunks(values: Sequence[int], size: int = CHUNK) -> Iterable[Sequence[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


async def pending_notices(hub: Hub, now: datetime) -> NoticeRound:
    """The notices due at ``now``, one per dossier master, after settling the failures nobody is
    to be told of. Nothing is marked told here: :func:`mark_notified` does, once sent."""
    settled = 0
    masters: dict[tuple[int, int], _Master] = {}
    async with hub.sessions() as session, session.begin():
        # A failed delivery's next_attempt_at is when the worker recorded the failure (it sets
        # it to "now" with every outcome, and a retry does too): the failure's date here.
        too_old = await _settle(session, [Delivery.next_attempt_at < now - MAX_AGE], now)
        if too_old:
            log.warning(
                "%d failed send(s) still untold after %d days: no longer trying to tell "
                "their dossier masters (they stay on the dashboard)",
                too_old,
                MAX_AGE.days,
            )
        settled += too_old
        dossier_ids = list(
            await session.scalars(select(Delivery.dossier_id).where(*_untold()).distinct())
        )
        quiet: list[int] = []
        for chunk in _chunks(dossier_ids):
            rows = await session.execute(
                select(Dossier.id, Dossier.firm_id, StaffUser)
                .outerjoin(
                    StaffUser,
                    and_(StaffUser.id == Dossier.master_id, StaffUser.firm_id == Dossier.firm_id),
                )
                .where(Dossier.id.in_(chunk))
            )
            for dossier_id, firm_id, master in rows:
                if master is None:
                    quiet.append(dossier_id)
                    continue
                key = (firm_id, master.id)
                if key not in masters:
                    masters[key] = _Master(
                        firm_id,
                        master.id,
                        master.display_name,
                        master.locale,
                        master.failure_notices,
                        master.active,
                        master.last_digest_at,
                    )
                if masters[key].listening:
                    masters[key].dossiers.append(dossier_id)
                else:
                    quiet.append(dossier_id)
        # Nobody to tell: no master, an inactive one, or one who switched notices off.
        for chunk in _chunks(quiet):
            settled += await _settle(session, [Delivery.dossier_id.in_(chunk)], now)

    due = [
        m
        for m in masters.values()
        if m.dossiers and (m.mode == IMMEDIATE or digest_due(hub, now, m.last_digest_at))
    ]
    notices = [await _notice(hub, m) for m in sorted(due, key=lambda m: (m.firm_id, m.master_id))]
    return NoticeRound([n for n in notices if n.total and burst_over(n, now)], settled)


async def _notice(hub: Hub, master: _Master) -> FailureNotice:
    async with hub.sessions() as session:
        failed: list[tuple[int, datetime]] = []
        for chunk in _chunks(master.dossiers):
            found = await session.execute(
                select(Delivery.id, Delivery.next_attempt_at)
                .where(
                    *_untold(),
                    Delivery.firm_id == master.firm_id,
                    Delivery.dossier_id.in_(chunk),
                )
                .order_by(Delivery.id.desc())
                .limit(MAX_PER_NOTICE)
            )
            failed.extend((delivery_id, at) for delivery_id, at in found)
        # Newest first (ids follow the arrival of documents): the listed ones are the latest.
        failed = sorted(failed, reverse=True)[:MAX_PER_NOTICE]
        ids = [delivery_id for delivery_id, _ in failed]
        # The worker stamps next_attempt_at with each outcome: when each one failed.
        times = [at for _, at in failed]
        rows = []
        if ids:
            rows = list(
                (
                    await session.execute(
                        select(
                            Delivery.id,
                            Document.name,
                            DocumentVersion.number,
                            Dossier.code,
                            Dossier.name,
                            Delivery.application_label,
                            Delivery.failure_reason,
                        )
                        .join(DocumentVersion, DocumentVersion.id == Delivery.document_version_id)
                        .join(Document, Document.id == DocumentVersion.document_id)
                        .join(Dossier, Dossier.id == Delivery.dossier_id)
                        .where(Delivery.id.in_(ids[:MAX_LISTED]))
                        .order_by(Delivery.id.desc())
                    )
                ).all()
            )
    items = tuple(
        NoticeItem(
            delivery_id=row[0],
            document=row[1],
            version=row[2],
            dossier_code=row[3],
            dossier_name=row[4],
            application=row[5],
            reason=row[6] or "",
        )
        for row in rows
    )
    return FailureNotice(
        firm_id=master.firm_id,
        master_id=master.master_id,
        master_name=master.name,
        locale=master.locale,
        digest=master.mode == DAILY,
        total=len(ids),
        items=items,
        delivery_ids=tuple(ids),
        first_failed_at=min(times, default=None),
        last_failed_at=max(times, default=None),
    )


async def mark_notified(hub: Hub, notice: FailureNotice, now: datetime) -> int:
    """The notice reached its master: its failures are told (a failure retried and failing again
    is untold anew: the worker clears ``notified_at`` when it records an outcome)."""
    done = 0
    async with hub.sessions() as session, session.begin():
        for chunk in _chunks(list(notice.delivery_ids)):
            done += await _settle(
                session, [Delivery.firm_id == notice.firm_id, Delivery.id.in_(chunk)], now
            )
        if notice.digest:
            await session.execute(
                update(StaffUser)
                .where(StaffUser.id == notice.master_id, StaffUser.firm_id == notice.firm_id)
                .values(last_digest_at=now)
            )
        record(
            session,
            notice.firm_id,
            "system",
            "failures.notified",
            "staff_user",
            notice.master_id,
            count=done,
            digest=notice.digest,
        )
    return done
