"""Telling dossier masters in Teams that documents could not be sent (DESIGN.md workflow 3).

The delivery worker may run in another process (``relais worker``) and never talks to Teams: a
failure it records is a ``delivery`` row with status ``failed`` and ``notified_at`` NULL. The bot's
dispatcher (``bot/notices.py``) asks :func:`pending_notices` each round for what is due, sends one
grouped message per dossier master, and only then marks it with :func:`mark_notified`: if Teams is
unreachable nothing is marked and the same failures come back next round.

Each master chooses (:func:`set_failure_notices`, from the panel) how they hear of failures:
``immediate`` (one grouped message per round, so a burst of failures makes one message),
``daily`` (one digest a day at ``RELAIS_NOTICE_DIGEST_HOUR`` in ``RELAIS_NOTICE_TIMEZONE``, of
everything failed since the last one) or ``off``. Failures nobody is to be told of (no master, an
inactive master, notices off) are settled without a message, and so are those still untold after
:data:`MAX_AGE` (a master who never opened the bot, Teams refusing for days): retrying stops,
and the log says so. The failures themselves stay on the dashboard either way.

"Failed and not yet told" is read through the partial index ``ix_delivery_unnotified``, so a
round costs what the untold backlog costs, not what the delivery table weighs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.audit import record
from hub.errors import InvalidInput, PermissionDenied
from hub.history import as_utc, must_utc
from hub.identity import Actor
from hub.rounds import NOTICES, exclusive_round
from hub.services import Hub
from storage.models import (
    Delivery,
    Document,
    DocumentVersion,
    Dossier,
    StaffUser,
)

log = logging.getLogger("relais.notifications")

IMMEDIATE, DAILY, OFF = "immediate", "daily", "off"
CHOICES = (IMMEDIATE, DAILY, OFF)
# Failures listed one by one on a notice; the others are counted ("and 12 more").
MAX_LISTED = 10
# Untold this long after failing, a failure is settled without a message.
MAX_AGE = timedelta(days=7)
# A burst still under way is not told yet: an immediate notice waits until no failure has come for
# QUIET, so the worker's failures spread over two rounds make one message, not two; but never
# longer than MAX_HOLD after the first, so a steady trickle is still told.
QUIET = timedelta(seconds=30)
MAX_HOLD = timedelta(minutes=5)
# Failures one notice covers; a larger burst is told over the next rounds.
MAX_PER_NOTICE = 5000
CHUNK = 500


# --------------------------------------------------------------------------- what a notice holds


@dataclass(frozen=True)
class NoticeItem:
    delivery_id: int
    document: str
    version: int
    dossier_code: str
    dossier_name: str
    application: str
    reason: str


@dataclass(frozen=True)
class FailureNotice:
    """One message to one dossier master: their untold failures, newest first."""

    firm_id: int
    master_id: int
    master_name: str
    locale: str
    digest: bool  # the daily digest rather than an immediate notice
    total: int
    items: tuple[NoticeItem, ...]  # at most MAX_LISTED
    delivery_ids: tuple[int, ...]  # everything this notice covers, marked once it is sent
    first_failed_at: datetime | None = None
    last_failed_at: datetime | None = None

    @property
    def person(self) -> str:
        """How stored conversation references name the master (``hub.conversations``)."""
        return f"staff:{self.master_id}"

    @property
    def more(self) -> int:
        return self.total - len(self.items)

    @property
    def retry_ids(self) -> list[int]:
        """The failures shown: the master may send them again (:func:`hub.history.may_retry`)."""
        return [item.delivery_id for item in self.items]


@dataclass(frozen=True)
class NoticeRound:
    notices: list[FailureNotice]
    settled: int  # failures marked without a message this round (nobody to tell, too old)


# --------------------------------------------------------------------------- times


def _db_time(hub: Hub, value: datetime) -> datetime:
    """SQLite keeps times as naive UTC text, PostgreSQL as timestamptz: match the column."""
    value = value.astimezone(UTC)
    return value.replace(tzinfo=None) if hub.settings.is_sqlite else value


def digest_moment(hub: Hub, now: datetime) -> datetime:
    """Today's digest time (``notice_digest_hour`` in ``notice_timezone``), in UTC."""
    zone = ZoneInfo(hub.settings.notice_timezone)
    local = now.astimezone(zone)
    moment = local.replace(hour=hub.settings.notice_digest_hour, minute=0, second=0, microsecond=0)
    return moment.astimezone(UTC)


def digest_due(hub: Hub, now: datetime, last_digest_at: datetime | None) -> bool:
    """Once a day, from the digest hour on: nothing before it, and nothing twice after it."""
    moment = digest_moment(hub, now)
    last = as_utc(last_digest_at)
    return now >= moment and (last is None or last < moment)


# --------------------------------------------------------------------------- the dispatcher's side


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
    session: AsyncSession, hub: Hub, where: Sequence[ColumnElement[bool]], now: datetime
) -> int:
    result = await session.execute(
        update(Delivery)
        .where(*_untold(), *where)
        .values(notified_at=_db_time(hub, now))
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
        too_old = await _settle(
            session, hub, [Delivery.next_attempt_at < _db_time(hub, now - MAX_AGE)], now
        )
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
            settled += await _settle(session, hub, [Delivery.dossier_id.in_(chunk)], now)

    due = [
        m
        for m in masters.values()
        if m.dossiers and (m.mode == IMMEDIATE or digest_due(hub, now, m.last_digest_at))
    ]
    notices = [await _notice(hub, m) for m in sorted(due, key=lambda m: (m.firm_id, m.master_id))]
    return NoticeRound([n for n in notices if n.total and _burst_over(n, now)], settled)


def _burst_over(notice: FailureNotice, now: datetime) -> bool:
    """A digest goes at its hour; an immediate notice once its burst has calmed (see QUIET)."""
    if notice.digest or notice.first_failed_at is None or notice.last_failed_at is None:
        return True
    return now - notice.last_failed_at >= QUIET or now - notice.first_failed_at >= MAX_HOLD


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
        times = [must_utc(at) for _, at in failed]
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
                session, hub, [Delivery.firm_id == notice.firm_id, Delivery.id.in_(chunk)], now
            )
        if notice.digest:
            await session.execute(
                update(StaffUser)
                .where(StaffUser.id == notice.master_id, StaffUser.firm_id == notice.firm_id)
                .values(last_digest_at=_db_time(hub, now))
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


# --------------------------------------------------------------------------- the panel's side


async def failure_notices_of(hub: Hub, actor: Actor) -> str:
    """The signed-in person's own choice (``immediate`` for contacts, who have none)."""
    if not actor.is_staff:
        return IMMEDIATE
    async with hub.sessions() as session:
        choice = await session.scalar(
            select(StaffUser.failure_notices).where(
                StaffUser.id == actor.id, StaffUser.firm_id == actor.firm_id
            )
        )
    return choice if choice in CHOICES else IMMEDIATE


async def set_failure_notices(hub: Hub, actor: Actor, choice: str) -> str:
    """A staff member chooses how they hear of their dossiers' failed sends; only their own."""
    if not actor.is_staff:
        raise PermissionDenied("contacts have no failure notices", key="notices.staff_only")
    choice = (choice or "").strip()
    if choice not in CHOICES:
        raise InvalidInput(
            f"unknown choice {choice!r}", field="failure_notices", key="notices.bad_choice"
        )
    async with hub.sessions() as session, session.begin():
        user = await session.scalar(
            select(StaffUser).where(StaffUser.id == actor.id, StaffUser.firm_id == actor.firm_id)
        )
        if user is None:
            raise PermissionDenied("no such staff member", key="notices.staff_only")
        before = user.failure_notices
        if before == choice:
            return choice
        user.failure_notices = choice
        if choice == DAILY:
            # The first digest is the next one at the digest hour, not one at once.
            user.last_digest_at = _db_time(hub, datetime.now(UTC))
        record(
            session,
            actor.firm_id,
            actor.ref,
            "staff.failure_notices",
            "staff_user",
            actor.id,
            before=before,
            after=choice,
        )
    return choice


__all__ = [
    "CHOICES",
    "DAILY",
    "IMMEDIATE",
    "MAX_AGE",
    "MAX_LISTED",
    "OFF",
    "FailureNotice",
    "NoticeItem",
    "NoticeRound",
    "digest_due",
    "digest_moment",
    "failure_notices_of",
    "mark_notified",
    "notice_round",
    "pending_notices",
    "set_failure_notices",
]
