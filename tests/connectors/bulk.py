"""Thousands of documents waiting for delivery, inserted in bulk (the crash, multi-worker and
benchmark runs need the outbox full, not the intake measured)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, select

from storage.blobs import BlobStore
from storage.db import Sessions
from storage.models import Delivery, Document, DocumentVersion

PDF_HEAD = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


async def fill_outbox(
    sessions: Sessions,
    blobs: BlobStore,
    *,
    firm_id: int,
    dossier_id: int,
    folder_id: int,
    connection_id: int,
    count: int,
    distinct_contents: int = 100,
    prefix: str = "doc",
) -> list[str]:
    """``count`` one-version documents, each with a due delivery; returns their idempotency keys.

    Contents cycle through ``distinct_contents`` small PDFs: storing a file costs an fsync, and
    the sandbox tells deliveries apart by idempotency key, not by content.
    """
    contents = [PDF_HEAD + f"% {prefix} {i}\n".encode() for i in range(distinct_contents)]
    digests = [blobs.put(data) for data in contents]
    now = datetime.now(UTC)
    async with sessions() as session, session.begin():
        for start in range(0, count, 2000):
            chunk = range(start, min(count, start + 2000))
            await session.execute(
                insert(Document),
                [
                    {
                        "firm_id": firm_id,
                        "dossier_id": dossier_id,
                        "folder_id": folder_id,
                        "name": f"{prefix}-{i:06d}.pdf",
                    }
                    for i in chunk
                ],
            )
        rows = await session.execute(
            select(Document.name, Document.id).where(
                Document.dossier_id == dossier_id, Document.name.like(f"{prefix}-%")
            )
        )
        documents = {name: document_id for name, document_id in rows}
        for start in range(0, count, 2000):
            chunk = range(start, min(count, start + 2000))
            await session.execute(
                insert(DocumentVersion),
                [
                    {
                        "firm_id": firm_id,
                        "document_id": documents[f"{prefix}-{i:06d}.pdf"],
                        "number": 1,
                        "sha256": digests[i % distinct_contents][0],
                        "size": digests[i % distinct_contents][1],
                        "content_type": "application/pdf",
                        "uploaded_by": "cli",
                        "source": "cli",
                    }
                    for i in chunk
                ],
            )
        versions = list(
            await session.scalars(
                select(DocumentVersion.id).where(
                    DocumentVersion.document_id.in_(list(documents.values()))
                )
            )
        )
        for start in range(0, len(versions), 2000):
            await session.execute(
                insert(Delivery),
                [
                    {
                        "firm_id": firm_id,
                        "document_version_id": version_id,
                        "connection_id": connection_id,
                        "dossier_id": dossier_id,
                        "next_attempt_at": now,
                    }
                    for version_id in versions[start : start + 2000]
                ],
            )
        keys = list(
            await session.scalars(
                select(Delivery.idempotency_key).where(Delivery.document_version_id.in_(versions))
            )
        )
    return keys
