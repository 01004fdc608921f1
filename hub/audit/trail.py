"""Reading the audit trail (:mod:`hub.audit.events` writes it): filters, names instead of
references (:mod:`hub.audit.labels`), and keyset pages on ``(at, id)`` so page 500 costs what page 1
costs.

Administrators and rights managers read the whole firm's trail; anyone else only their own events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_, select

from hub.audit.labels import actor_names, target_labels
from hub.errors import InvalidInput
from hub.identity import Actor
from hub.paging import filter_day
from hub.rights import require_staff, sees_all_dossiers
from hub.services import Hub
from storage.models import AuditEvent, StaffUser

PER_PAGE = 50


@dataclass(frozen=True)
class AuditFilters:
    actor: str = ""  # a reference: "staff:3", "contact:5", "system"
    action: str = ""
    target_type: str = ""
    since: date | None = None
    until: date | None = None  # inclusive

    @property
    def active(self) -> bool:
        return bool(self.actor or self.action or self.target_type or self.since or self.until)


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    actor_name: str | None  # None: the system, or someone since deleted
    action: str
    target_type: str
    target_id: str
    target_label: str | None
    details: dict[str, Any]


@dataclass(frozen=True)
class AuditPage:
    items: list[AuditEntry]
    newer: str | None  # cursor of the page before (newer events), if any
    older: str | None  # cursor of the page after (older events), if any
    own_only: bool  # the reader sees only their own events


@dataclass(frozen=True)
class AuditChoices:
    actors: list[tuple[str, str]]  # (reference, name)
    actions: list[str]
    target_types: list[str]


def parse_filters(raw: Mapping[str, str]) -> AuditFilters:
    """The filters as a query string carries them; a malformed date is the person's to fix."""

    def day(name: str) -> date | None:
        return filter_day(raw, name, "audit.bad_date")

    return AuditFilters(
        actor=raw.get("actor", "").strip()[:64],
        action=raw.get("action", "").strip()[:64],
        target_type=raw.get("target_type", "").strip()[:32],
        since=day("since"),
        until=day("until"),
    )


def _parse_cursor(value: str) -> tuple[datetime, int]:
    """A page cursor ``<at>~<id>``; the column's type takes ``at`` to UTC for the comparison."""
    try:
        raw_at, _, ident = value.rpartition("~")
        return datetime.fromisoformat(raw_at), int(ident)
    except ValueError:
        raise InvalidInput(f"bad cursor {value!r}", key="audit.bad_cursor") from None


def _cursor(entry: AuditEntry) -> str:
    return f"{entry.at.isoformat()}~{entry.id}"


def _scope(actor: Actor, filters: AuditFilters) -> tuple[AuditFilters, bool]:
    require_staff(actor)
    if sees_all_dossiers(actor):
        return filters, False
    return replace(filters, actor=actor.ref), True


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _conditions(firm_id: int, filters: AuditFilters) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [AuditEvent.firm_id == firm_id]
    for column, value in (
        (AuditEvent.actor, filters.actor),
        (AuditEvent.action, filters.action),
        (AuditEvent.target_type, filters.target_type),
    ):
        if value:
            where.append(column == value)
    if filters.since:
        where.append(AuditEvent.at >= _start_of(filters.since))
    if filters.until:
        where.append(AuditEvent.at < _start_of(filters.until + timedelta(days=1)))
    return where


def _keyset(query: Select[AuditEvent], after: str | None, before: str | None) -> Select[AuditEvent]:
    """Older than ``after``, or else newer than ``before``; newest first unless ``before`` is
    given (the newer page is read upwards, and turned round by the caller)."""
    if after:
        at, ident = _parse_cursor(after)
        query = query.where(
            or_(AuditEvent.at < at, and_(AuditEvent.at == at, AuditEvent.id < ident))
        )
    elif before:
        at, ident = _parse_cursor(before)
        query = query.where(
            or_(AuditEvent.at > at, and_(AuditEvent.at == at, AuditEvent.id > ident))
        )
    if before is None:
        return query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    return query.order_by(AuditEvent.at.asc(), AuditEvent.id.asc())


async def list_events(
    hub: Hub,
    actor: Actor,
    filters: AuditFilters,
    *,
    after: str | None = None,
    before: str | None = None,
    per_page: int = PER_PAGE,
) -> AuditPage:
    """Newest first. ``after``: the page older than that cursor; ``before``: the page newer."""
    filters, own_only = _scope(actor, filters)
    newest_first = before is None
    query = _keyset(select(AuditEvent).where(*_conditions(actor.firm_id, filters)), after, before)
    async with hub.sessions() as session:
        events = list(await session.scalars(query.limit(per_page + 1)))
        more = len(events) > per_page
        events = events[:per_page]
        if not newest_first:
            events.reverse()
        names = await actor_names(session, actor.firm_id, (e.actor for e in events))
        labels = await target_labels(session, actor.firm_id, events)

    items = [
        AuditEntry(
            id=e.id,
            at=e.at,
            actor=e.actor,
            actor_name=names.get(e.actor),
            action=e.action,
            target_type=e.target_type,
            target_id=e.target_id,
            target_label=labels.get((e.target_type, e.target_id)),
            details=dict(e.details or {}),
        )
        for e in events
    ]
    first = _cursor(items[0]) if items else None
    last = _cursor(items[-1]) if items else None
    if newest_first:
        return AuditPage(items, first if after else None, last if more else None, own_only)
    return AuditPage(items, first if more else None, last, own_only)


async def filter_choices(hub: Hub, actor: Actor) -> AuditChoices:
    """What the filter lists offer: the firm's staff by name, and the actions and target types
    that occur in the events the reader may see."""
    filters, own_only = _scope(actor, AuditFilters())
    scope = [AuditEvent.firm_id == actor.firm_id]
    if own_only:
        scope.append(AuditEvent.actor == filters.actor)
    async with hub.sessions() as session:
        actions = list(
            await session.scalars(
                select(AuditEvent.action).where(*scope).distinct().order_by(AuditEvent.action)
            )
        )
        target_types = list(
            await session.scalars(
                select(AuditEvent.target_type)
                .where(*scope, AuditEvent.target_type != "")
                .distinct()
                .order_by(AuditEvent.target_type)
            )
        )
        if own_only:
            actors = [(actor.ref, actor.display_name)]
        else:
            staff = await session.execute(
                select(StaffUser.id, StaffUser.display_name)
                .where(StaffUser.firm_id == actor.firm_id)
                .order_by(StaffUser.display_name)
            )
            actors = [(f"staff:{ident}", name) for ident, name in staff]
            actors.append(("system", ""))
    return AuditChoices(actors, actions, target_types)
