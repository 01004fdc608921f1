"""What happened to every document (seed 000 §5, DESIGN.md workflows 3 and 7): one document's
history, documents found by name, a dossier's status, and sending failed deliveries again.

The bot (``history``, ``status``, Retry buttons) and the panel (History drawer, dashboard) call
these. Who sees what is :func:`visible_dossiers`: administrators and rights managers (and the
firm's API tokens and the command line) the whole firm; other staff the dossiers they are master or
engagement manager of; a client contact only the dossiers they are linked to. A dossier one may not
see answers :class:`~hub.errors.NotFound`, the same as one that does not exist.

The failed-sends and activity dashboards are in :mod:`hub.dashboards`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    bindparam,
    false,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from hub.audit import record
from hub.errors import InvalidInput, NotFound, PermissionDenied
from hub.identity import Actor
from hub.paging import like_pattern
from hub.rights import may_activate, sees_all_dossiers
from hub.services import Hub
from storage.models import (
    ApiToken,
    CatalogApp,
    Connection,
    ConnectionFolder,
    Contact,
    ContactDossier,
    Delivery,
    DeliveryAttempt,
    Document,
    DocumentVersion,
    Dossier,
    FirmApplication,
    Folder,
    StaffUser,
)
from storage.search import MIN_INDEXED, document_name_fts, fts_phrase

# Who reads the whole firm besides administrators and rights managers.
FIRM_WIDE = frozenset({"token", "system"})
FIND_LIMIT = 10
MAX_FIND_LIMIT = 50
# How many deliveries one "retry" may touch at once (a batch of ids, or "all matching").
MAX_RETRY = 1000
LAST_DELIVERIES = 10


# --------------------------------------------------------------------------- rights


def visible_dossiers(actor: Actor) -> ColumnElement[bool]:
    """A condition on :class:`Dossier`: the dossiers ``actor`` may read (always firm-scoped)."""
    firm = Dossier.firm_id == actor.firm_id
    if sees_whole_firm(actor):
        return firm
    if actor.is_staff:
        return and_(
            firm, or_(Dossier.master_id == actor.id, Dossier.engagement_manager_id == actor.id)
        )
    if actor.kind == "contact":
        linked = select(ContactDossier.dossier_id).where(
            ContactDossier.firm_id == actor.firm_id, ContactDossier.contact_id == actor.id
        )
        return and_(firm, Dossier.id.in_(linked))
    return false()


def sees_whole_firm(actor: Actor) -> bool:
    return actor.kind in FIRM_WIDE or (actor.is_staff and sees_all_dossiers(actor))


def visible_dossier_ids(actor: Actor) -> ColumnElement[bool] | None:
    """A condition on a ``dossier_id`` column's subquery, or None when the actor sees the whole
    firm (the caller then filters on ``firm_id`` alone and uses the firm indexes)."""
    if sees_whole_firm(actor):
        return None
    return visible_dossiers(actor)


def may_retry(actor: Actor, dossier: Dossier) -> bool:
    """Sending again is acting on the dossier: the people who may switch its applications on."""
    return may_activate(actor, dossier)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite gives naive UTC back; PostgreSQL an aware time."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def must_utc(value: datetime) -> datetime:
    result = as_utc(value)
    assert result is not None
    return result


def application_label() -> ColumnElement[str]:
    """The application's label in a query outer-joined to the delivery's connection, firm
    application and catalog entry: today's, or the one kept on the delivery once the
    application was deleted."""
    return func.coalesce(CatalogApp.label, Delivery.application_label).label("application")


def retryable(delivery: Delivery) -> bool:
    """Failed, and its application is still there to send to."""
    return delivery.status == "failed" and delivery.connection_id is not None


async def person_names(session: AsyncSession, firm_id: int, refs: Iterable[str]) -> dict[str, str]:
    """``staff:3`` → "Claire Durand", ``contact:5`` → the contact's name, ``token:2`` → its label."""
    wanted: dict[str, set[int]] = defaultdict(set)
    for ref in refs:
        kind, _, ident = ref.partition(":")
        if ident.isdigit():
            wanted[kind].add(int(ident))
    names: dict[str, str] = {}
    if wanted["staff"]:
        rows = await session.execute(
            select(StaffUser.id, StaffUser.display_name).where(
                StaffUser.firm_id == firm_id, StaffUser.id.in_(wanted["staff"])
            )
        )
        names.update({f"staff:{i}": n for i, n in rows})
    if wanted["contact"]:
        contacts = await session.scalars(
            select(Contact).where(Contact.firm_id == firm_id, Contact.id.in_(wanted["contact"]))
        )
        names.update({f"contact:{c.id}": c.display_name for c in contacts})
    if wanted["token"]:
        rows = await session.execute(
            select(ApiToken.id, ApiToken.label).where(
                ApiToken.firm_id == firm_id, ApiToken.id.in_(wanted["token"])
            )
        )
        names.update({f"token:{i}": n for i, n in rows})
    return names


# --------------------------------------------------------------------------- one document


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


@dataclass(frozen=True)
class VersionEntry:
    id: int
    number: int
    uploaded_by: str  # a readable name ("" when unknown)
    uploader: str  # the stored reference: staff:3, contact:5, token:2, cli
    source: str  # panel | api | bot | cli
    uploaded_at: datetime
    size: int
    content_type: str
    deliveries: list[DeliveryEntry]


@dataclass(frozen=True)
class DocumentHistory:
    id: int
    name: str
    dossier_code: str
    dossier_name: str
    folder: str
    versions: list[VersionEntry]  # newest first


async def document_history(hub: Hub, actor: Actor, document_id: int) -> DocumentHistory:
    """Each version of the document, newest first, and under each every delivery with its
    attempts. A handful of indexed queries, whatever the number of versions or deliveries."""
    async with hub.sessions() as session:
        found = (
            await session.execute(
                select(Document, Dossier, Folder.path)
                .join(Dossier, Dossier.id == Document.dossier_id)
                .join(Folder, Folder.id == Document.folder_id)
                .where(
                    Document.id == document_id,
                    Document.firm_id == actor.firm_id,
                    visible_dossiers(actor),
                )
            )
        ).first()
        if found is None:
            raise NotFound(f"no document {document_id} for {actor.ref}", key="history.no_document")
        document, dossier, folder = found
        versions = list(
            await session.scalars(
                select(DocumentVersion)
                .where(DocumentVersion.document_id == document.id)
                .order_by(DocumentVersion.number.desc())
            )
        )
        by_version = await _deliveries_of(
            session, [v.id for v in versions], may_retry(actor, dossier)
        )
        names = await person_names(session, actor.firm_id, {v.uploaded_by for v in versions})
    return DocumentHistory(
        id=document.id,
        name=document.name,
        dossier_code=dossier.code,
        dossier_name=dossier.name,
        folder=folder,
        versions=[
            VersionEntry(
                id=v.id,
                number=v.number,
                uploaded_by=names.get(v.uploaded_by, ""),
                uploader=v.uploaded_by,
                source=v.source,
                uploaded_at=must_utc(v.created_at),
                size=v.size,
                content_type=v.content_type,
                deliveries=by_version.get(v.id, []),
            )
            for v in versions
        ],
    )


async def _deliveries_of(
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
                AttemptEntry(must_utc(attempt.at), attempt.outcome, attempt.detail)
            )
    result: dict[int, list[DeliveryEntry]] = defaultdict(list)
    for delivery, label in rows:
        result[delivery.document_version_id].append(
            DeliveryEntry(
                id=delivery.id,
                application=label,
                queued_at=must_utc(delivery.created_at),
                status=delivery.status,
                failure_reason=delivery.failure_reason,
                app_reference=delivery.app_reference,
                sent_at=as_utc(delivery.sent_at),
                next_attempt_at=as_utc(delivery.next_attempt_at)
                if delivery.status == "pending"
                else None,
                attempts=tries.get(delivery.id, []),
                may_retry=retry_allowed and retryable(delivery),
                application_deleted=delivery.connection_id is None,
            )
        )
    return result


# --------------------------------------------------------------------------- find by name


@dataclass(frozen=True)
class DeliveryStatus:
    id: int
    application: str
    status: str
    failure_reason: str | None
    sent_at: datetime | None
    may_retry: bool
    app_reference: str = ""  # the application's own reference, once sent
    queued_at: datetime | None = None
    application_deleted: bool = False  # ``application`` is the label it had


@dataclass(frozen=True)
class VersionSummary:
    number: int
    uploaded_at: datetime
    uploaded_by: str
    size: int
    deliveries: list[DeliveryStatus]


@dataclass(frozen=True)
class DocumentMatch:
    id: int
    name: str
    dossier_code: str
    dossier_name: str
    folder: str
    created_at: datetime
    versions: list[VersionSummary]  # newest first


@dataclass(frozen=True)
class DocumentMatches:
    items: list[DocumentMatch]
    # Pass as ``after`` for the next ones ("show more"); None when there are no more.
    next_after: int | None


def _matching(
    dialect: str, term: str, where: list[ColumnElement[bool]], after: int | None, limit: int
) -> Select[Document, Dossier, str]:
    """The page of documents whose name holds ``term``, newest first. On SQLite, from three
    characters, walked from the trigram index (migration 0006) in id order, so a rare name costs
    as little as a common one; shorter terms, and PostgreSQL (whose GIN trigram index serves this
    very ``LIKE``), filter with ``lower(name) LIKE``. Both match any substring, in any case."""
    if dialect == "sqlite" and len(term) >= MIN_INDEXED:
        fts = document_name_fts
        query = (
            select(Document, Dossier, Folder.path)
            .select_from(fts)
            .join(Document, Document.id == fts.c.rowid)
            .where(fts.c.name.match(fts_phrase(term)), *where)
            # On the FTS table's rowid: the index then gives the rows newest first and pages.
            .order_by(fts.c.rowid.desc())
        )
        if after is not None:
            query = query.where(fts.c.rowid < after)
    else:
        # The pattern written into the statement: with a bound value PostgreSQL soon settles on
        # one generic plan, which cannot know the pattern is rare and walks every document
        # newest first (40 ms for 100,000 names) instead of asking the trigram index (8 ms).
        pattern = bindparam(None, like_pattern(term), String, literal_execute=True)
        query = (
            select(Document, Dossier, Folder.path)
            .where(func.lower(Document.name).like(pattern, escape="\\"), *where)
            .order_by(Document.id.desc())
        )
        if after is not None:
            query = query.where(Document.id < after)
    return (
        query.join(Dossier, Dossier.id == Document.dossier_id)
        .join(Folder, Folder.id == Document.folder_id)
        .limit(limit)
    )


async def find_documents(
    hub: Hub,
    actor: Actor,
    name_part: str,
    *,
    limit: int = FIND_LIMIT,
    after: int | None = None,
) -> DocumentMatches:
    """Documents whose name contains ``name_part`` (any case), newest first, in the dossiers the
    actor may see, each with its versions and their deliveries' statuses. Pages are keyed by
    document id (ids grow with time): ``after`` is the previous answer's ``next_after``."""
    term = name_part.strip()
    if not term:
        raise InvalidInput("empty search", field="q", key="history.empty_search")
    limit = max(1, min(limit, MAX_FIND_LIMIT))
    where: list[ColumnElement[bool]] = [Document.firm_id == actor.firm_id]
    scope = visible_dossier_ids(actor)
    if scope is not None:
        where.append(Document.dossier_id.in_(select(Dossier.id).where(scope)))
    async with hub.sessions() as session:
        dialect = (await session.connection()).dialect.name
        rows = (await session.execute(_matching(dialect, term, where, after, limit + 1))).all()
        more = len(rows) > limit
        rows = rows[:limit]
        documents = {document.id: (document, dossier, path) for document, dossier, path in rows}
        versions = (
            list(
                await session.scalars(
                    select(DocumentVersion)
                    .where(DocumentVersion.document_id.in_(list(documents)))
                    .order_by(DocumentVersion.document_id, DocumentVersion.number.desc())
                )
            )
            if documents
            else []
        )
        deliveries = await _deliveries_of(session, [v.id for v in versions], True, attempts=False)
        names = await person_names(session, actor.firm_id, {v.uploaded_by for v in versions})
    retry_on = {
        document_id: may_retry(actor, dossier) for document_id, (_, dossier, _) in documents.items()
    }
    by_document: dict[int, list[VersionSummary]] = defaultdict(list)
    for v in versions:
        by_document[v.document_id].append(
            VersionSummary(
                number=v.number,
                uploaded_at=must_utc(v.created_at),
                uploaded_by=names.get(v.uploaded_by, ""),
                size=v.size,
                deliveries=[
                    DeliveryStatus(
                        id=d.id,
                        application=d.application,
                        status=d.status,
                        failure_reason=d.failure_reason,
                        sent_at=d.sent_at,
                        may_retry=d.may_retry and retry_on[v.document_id],
                        app_reference=d.app_reference,
                        queued_at=d.queued_at,
                        application_deleted=d.application_deleted,
                    )
                    for d in deliveries.get(v.id, [])
                ],
            )
        )
    items = [
        DocumentMatch(
            id=document.id,
            name=document.name,
            dossier_code=dossier.code,
            dossier_name=dossier.name,
            folder=path,
            created_at=must_utc(document.created_at),
            versions=by_document.get(document.id, []),
        )
        for document, dossier, path in rows
    ]
    return DocumentMatches(items, items[-1].id if more and items else None)


# --------------------------------------------------------------------------- a dossier's status


@dataclass(frozen=True)
class ConnectedApplication:
    application: str
    method: str  # api | collection_email | none
    active: bool
    code_at_app: str
    collection_email: str
    folders: list[str]
    pending: int
    failed: int


@dataclass(frozen=True)
class RecentDelivery:
    id: int
    document_id: int
    document: str
    version: int
    application: str
    status: str
    failure_reason: str | None
    queued_at: datetime
    sent_at: datetime | None
    may_retry: bool
    application_deleted: bool = False


@dataclass(frozen=True)
class DossierStatus:
    code: str
    name: str
    status: str  # active | inactive | archived
    applications: list[ConnectedApplication]
    last_deliveries: list[RecentDelivery]  # newest first
    may_retry: bool


async def dossier_status(
    hub: Hub, actor: Actor, code: str, *, last: int = LAST_DELIVERIES
) -> DossierStatus:
    """The dossier's applications (with their connected folders and how many deliveries wait or
    failed) and its last deliveries."""
    async with hub.sessions() as session:
        dossier = await session.scalar(
            select(Dossier).where(Dossier.code == code.strip(), visible_dossiers(actor))
        )
        if dossier is None:
            raise NotFound(f"no dossier {code!r} for {actor.ref}", key="portfolio.no_dossier")
        connections = (
            await session.execute(
                select(Connection, CatalogApp.label, CatalogApp.connection)
                .join(FirmApplication, FirmApplication.id == Connection.firm_application_id)
                .join(CatalogApp, CatalogApp.id == FirmApplication.catalog_app_id)
                .where(Connection.firm_id == actor.firm_id, Connection.dossier_id == dossier.id)
                .order_by(CatalogApp.label)
            )
        ).all()
        ids = [c.id for c, _, _ in connections]
        folders: dict[int, list[str]] = defaultdict(list)
        counts: dict[tuple[int, str], int] = {}
        if ids:
            for connection_id, path in await session.execute(
                select(ConnectionFolder.connection_id, Folder.path)
                .join(Folder, Folder.id == ConnectionFolder.folder_id)
                .where(ConnectionFolder.connection_id.in_(ids))
                .order_by(Folder.path)
            ):
                folders[connection_id].append(path)
            for counted, status, n in await session.execute(
                select(Delivery.connection_id, Delivery.status, func.count())
                .where(
                    Delivery.connection_id.in_(ids),
                    Delivery.status.in_(("pending", "sending", "failed")),
                )
                .group_by(Delivery.connection_id, Delivery.status)
            ):
                if counted is not None:
                    counts[(counted, status)] = int(n)
        # By the dossier kept on the delivery: the deliveries of deleted applications too.
        recent = (
            await session.execute(
                select(
                    Delivery,
                    Document.id,
                    Document.name,
                    DocumentVersion.number,
                    application_label(),
                )
                .join(DocumentVersion, DocumentVersion.id == Delivery.document_version_id)
                .join(Document, Document.id == DocumentVersion.document_id)
                .outerjoin(Connection, Connection.id == Delivery.connection_id)
                .outerjoin(FirmApplication, FirmApplication.id == Connection.firm_application_id)
                .outerjoin(CatalogApp, CatalogApp.id == FirmApplication.catalog_app_id)
                .where(Delivery.firm_id == actor.firm_id, Delivery.dossier_id == dossier.id)
                .order_by(Delivery.created_at.desc(), Delivery.id.desc())
                .limit(last)
            )
        ).all()
    allowed = may_retry(actor, dossier)
    return DossierStatus(
        code=dossier.code,
        name=dossier.name,
        status=dossier.status,
        may_retry=allowed,
        applications=[
            ConnectedApplication(
                application=label,
                method=method,
                active=c.active,
                code_at_app=c.dossier_code_at_app,
                collection_email=c.collection_email,
                folders=folders.get(c.id, []),
                pending=counts.get((c.id, "pending"), 0) + counts.get((c.id, "sending"), 0),
                failed=counts.get((c.id, "failed"), 0),
            )
            for c, label, method in connections
        ],
        last_deliveries=[
            RecentDelivery(
                id=d.id,
                document_id=document_id,
                document=name,
                version=number,
                application=label,
                status=d.status,
                failure_reason=d.failure_reason,
                queued_at=must_utc(d.created_at),
                sent_at=as_utc(d.sent_at),
                may_retry=allowed and retryable(d),
                application_deleted=d.connection_id is None,
            )
            for d, document_id, name, number, label in recent
        ],
    )


# --------------------------------------------------------------------------- retry


@dataclass(frozen=True)
class RetryResult:
    retried: int
    # Failed deliveries asked for but left alone: on dossiers the actor may not act on.
    refused: int = 0
    # "All matching": more matched than one retry may take; run it again for the rest.
    remaining: int = 0
    ids: list[int] = field(default_factory=list)


def require_may_retry_somewhere(actor: Actor) -> None:
    if not actor.is_staff:
        raise PermissionDenied(f"{actor.ref} may not retry deliveries", key="history.retry_denied")


async def retry(hub: Hub, actor: Actor, delivery_ids: Iterable[int]) -> int:
    """Send failed deliveries again: back to ``pending``, due now, with a fresh budget of tries
    (the attempt history is kept). Only failed ones, of dossiers the actor may act on (:func:`may_retry`); the others are
    left alone. Refused outright (PermissionDenied) when none of the failed ones asked for may be
    retried by this person. Returns how many were set back to pending."""
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
