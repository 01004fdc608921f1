"""Reading the audit trail (``hub/audit.py`` writes it): filters, names instead of references, and
keyset pages on ``(at, id)`` so page 500 costs what page 1 costs.

Administrators and rights managers read the whole firm's trail; anyone else only their own events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.errors import InvalidInput
from hub.identity import Actor
from hub.paging import filter_day
from hub.rights import require_staff, sees_all_dossiers
from hub.services import Hub
from storage.models import AuditEvent, Contact, Dossier, Firm, StaffUser

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


def _parse_cursor(value: str, naive: bool) -> tuple[datetime, int]:
    """SQLite keeps ``at`` as naive UTC text, PostgreSQL as timestamptz: match the column."""
    try:
        raw_at, _, ident = value.rpartition("~")
        at = datetime.fromisoformat(raw_at)
        number = int(ident)
    except ValueError:
        raise InvalidInput(f"bad cursor {value!r}", key="audit.bad_cursor") from None
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return (at.replace(tzinfo=None) if naive else at), number


def _scope(actor: Actor, filters: AuditFilters) -> tuple[AuditFilters, bool]:
    require_staff(actor)
    if sees_all_dossiers(actor):
        return filters, False
    return replace(filters, actor=actor.ref), True


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


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
    where: list[Any] = [AuditEvent.firm_id == actor.firm_id]
    if filters.actor:
        where.append(AuditEvent.actor == filters.actor)
    if filters.action:
        where.append(AuditEvent.action == filters.action)
    if filters.target_type:
        where.append(AuditEvent.target_type == filters.target_type)
    if filters.since:
        where.append(AuditEvent.at >= _start_of(filters.since))
    if filters.until:
        where.append(AuditEvent.at < _start_of(filters.until + timedelta(days=1)))

    query = select(AuditEvent).where(*where)
    newest_first = before is None
    naive = hub.settings.is_sqlite
    if after:
        at, ident = _parse_cursor(after, naive)
        query = query.where(
            or_(AuditEvent.at < at, and_(AuditEvent.at == at, AuditEvent.id < ident))
        )
    elif before:
        at, ident = _parse_cursor(before, naive)
        query = query.where(
            or_(AuditEvent.at > at, and_(AuditEvent.at == at, AuditEvent.id > ident))
        )
    if newest_first:
        query = query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    else:
        query = query.order_by(AuditEvent.at.asc(), AuditEvent.id.asc())

    async with hub.sessions() as session:
        events = list(await session.scalars(query.limit(per_page + 1)))
        more = len(events) > per_page
        events = events[:per_page]
        if not newest_first:
            events.reverse()
        names = await _names(session, actor.firm_id, (e.actor for e in events))
        labels = await _labels(session, actor.firm_id, events)

    items = [
        AuditEntry(
            id=e.id,
            at=e.at if e.at.tzinfo else e.at.replace(tzinfo=UTC),
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
    first = f"{items[0].at.isoformat()}~{items[0].id}" if items else None
    last = f"{items[-1].at.isoformat()}~{items[-1].id}" if items else None
    if newest_first:
        newer = first if after else None
        older = last if more else None
    else:
        newer = first if more else None
        older = last
    return AuditPage(items, newer, older, own_only)


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


def _ids(refs: Iterable[str], kind: str) -> set[int]:
    found: set[int] = set()
    for ref in refs:
        prefix, _, ident = ref.partition(":")
        if prefix == kind and ident.isdigit():
            found.add(int(ident))
    return found


async def _names(session: AsyncSession, firm_id: int, refs: Iterable[str]) -> dict[str, str]:
    refs = list(refs)
    names: dict[str, str] = {}
    staff_ids = _ids(refs, "staff")
    if staff_ids:
        rows = await session.execute(
            select(StaffUser.id, StaffUser.display_name).where(
                StaffUser.firm_id == firm_id, StaffUser.id.in_(staff_ids)
            )
        )
        names.update({f"staff:{ident}": name for ident, name in rows})
    contact_ids = _ids(refs, "contact")
    if contact_ids:
        contacts = await session.scalars(
            select(Contact).where(Contact.firm_id == firm_id, Contact.id.in_(contact_ids))
        )
        names.update({f"contact:{c.id}": c.display_name for c in contacts})
    return names


async def _labels(
    session: AsyncSession, firm_id: int, events: list[AuditEvent]
) -> dict[tuple[str, str], str]:
    """What each event is about, by name: a person, a dossier code, a contact, the firm."""
    wanted: dict[str, set[int]] = {}
    for event in events:
        if event.target_id.isdigit():
            wanted.setdefault(event.target_type, set()).add(int(event.target_id))
    labels: dict[tuple[str, str], str] = {}
    if ids := wanted.get("staff_user"):
        rows = await session.execute(
            select(StaffUser.id, StaffUser.display_name).where(
                StaffUser.firm_id == firm_id, StaffUser.id.in_(ids)
            )
        )
        labels.update({("staff_user", str(i)): name for i, name in rows})
    if ids := wanted.get("dossier"):
        dossiers = await session.execute(
            select(Dossier.id, Dossier.code, Dossier.name).where(
                Dossier.firm_id == firm_id, Dossier.id.in_(ids)
            )
        )
        labels.update({("dossier", str(d.id)): f"{d.code} · {d.name}" for d in dossiers})
    if ids := wanted.get("contact"):
        contacts = await session.scalars(
            select(Contact).where(Contact.firm_id == firm_id, Contact.id.in_(ids))
        )
        labels.update({("contact", str(c.id)): c.display_name for c in contacts})
    if firm_id in wanted.get("firm", set()):
        name = await session.scalar(select(Firm.name).where(Firm.id == firm_id))
        if name:
            labels[("firm", str(firm_id))] = name
    return labels
