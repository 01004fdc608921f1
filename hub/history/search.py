"""Documents found by a part of their name, newest first, in the dossiers the actor may see, each
with its versions and their deliveries' statuses (the bot's ``history``, the panel's search)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, String, bindparam, select

from hub.errors import InvalidInput
from hub.history.deliveries import deliveries_of
from hub.history.names import search_words
from hub.history.people import person_names
from hub.identity import Actor
from hub.paging import like_pattern
from hub.rights import may_retry, visible_dossier_ids
from hub.services import Hub
from storage.models import Document, DocumentVersion, Dossier, Folder
from storage.search import (
    MIN_INDEXED,
    document_name_folded,
    document_name_fts,
    folded,
    fts_all,
)

FIND_LIMIT = 10
MAX_FIND_LIMIT = 50


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
    next_attempt_at: datetime | None = None  # when pending: the next try
    tries: int = 0  # tries so far (since it was queued or last sent again)


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
    dialect: str, words: list[str], where: list[ColumnElement[bool]], after: int | None, limit: int
) -> Select[Document, Dossier, str]:
    """The page of documents whose folded name holds every one of ``words`` (folded, longest
    first), newest first. On SQLite, the words of three characters and more are one FTS5 query
    (``"w1" AND "w2"``) walked from the trigram index (migrations 0006 and 0009) in id order, so
    a rare name costs as little as a common one, and shorter words filter what it gives; when
    every word is short, and on PostgreSQL (whose GIN trigram index on ``relais_fold(name)``
    serves this very ``LIKE``, one condition per word), each word is a ``LIKE`` on the folded
    name."""
    sqlite = dialect == "sqlite"
    indexed = [w for w in words if len(w) >= MIN_INDEXED] if sqlite else []
    rest = [w for w in words if w not in indexed]
    view = document_name_folded
    name = view.c.name if sqlite else folded(dialect, Document.name)
    # Each pattern written into the statement: with a bound value PostgreSQL soon settles on one
    # generic plan, which cannot know the pattern is rare and walks every document newest first
    # (40 ms for 100,000 names) instead of asking the trigram index (8 ms).
    likes = [
        name.like(bindparam(None, like_pattern(w), String, literal_execute=True), escape="\\")
        for w in rest
    ]
    if indexed:
        fts = document_name_fts
        query = (
            select(Document, Dossier, Folder.path)
            .select_from(fts)
            .join(Document, Document.id == fts.c.rowid)
            .where(fts.c.name.match(fts_all(indexed)), *likes, *where)
            # On the FTS table's rowid: the index then gives the rows newest first and pages.
            .order_by(fts.c.rowid.desc())
        )
        if after is not None:
            query = query.where(fts.c.rowid < after)
    else:
        query = (
            select(Document, Dossier, Folder.path)
            .where(*likes, *where)
            .order_by(Document.id.desc())
        )
        if after is not None:
            query = query.where(Document.id < after)
    if sqlite and rest:
        query = query.join(view, view.c.id == Document.id)
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
    """Documents whose name holds every word of ``name_part`` (in any order, any case, with or
    without accents: :func:`hub.history.names.search_words`), newest first, in the dossiers the
    actor may see, each with its versions and their deliveries' statuses. Pages are keyed by
    document id (ids grow with time): ``after`` is the previous answer's ``next_after``."""
    words = search_words(name_part)
    if not words:
        raise InvalidInput("empty search", field="q", key="history.empty_search")
    limit = max(1, min(limit, MAX_FIND_LIMIT))
    where: list[ColumnElement[bool]] = [Document.firm_id == actor.firm_id]
    scope = visible_dossier_ids(actor)
    if scope is not None:
        where.append(Document.dossier_id.in_(select(Dossier.id).where(scope)))
    async with hub.sessions() as session:
        dialect = (await session.connection()).dialect.name
        rows = (await session.execute(_matching(dialect, words, where, after, limit + 1))).all()
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
        deliveries = await deliveries_of(session, [v.id for v in versions], True, attempts=False)
        names = await person_names(session, actor.firm_id, {v.uploaded_by for v in versions})
    retry_on = {
        document_id: may_retry(actor, dossier) for document_id, (_, dossier, _) in documents.items()
    }
    by_document: dict[int, list[VersionSummary]] = defaultdict(list)
    for v in versions:
        by_document[v.document_id].append(
            VersionSummary(
                number=v.number,
                uploaded_at=v.created_at,
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
                        next_attempt_at=d.next_attempt_at,
                        tries=d.tries,
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
            created_at=document.created_at,
            versions=by_document.get(document.id, []),
        )
        for document, dossier, path in rows
    ]
    return DocumentMatches(items, items[-1].id if more and items else None)
