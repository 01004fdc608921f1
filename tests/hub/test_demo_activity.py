"""The demo's month of activity (``relais demo``): applications, connections, documents and
deliveries in every state, seen the way a person trying Relais sees them."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from connectors.outcomes import FAILURE_REASONS
from connectors.worker import WorkerConfig
from hub import connections
from hub.applications import Definition, add_application
from hub.dashboards import activity, failure_counts
from hub.documents import blob_store
from hub.history import dossier_status, find_documents
from hub.identity import resolve
from hub.notices import pending_notices
from hub.services import Hub
from relais.demo import DEMO_STAFF, DEMO_TENANT_ID, DemoInfo, seed, seed_activity
from relais.demo.activity import point_at_partner
from storage.models import (
    CatalogApp,
    Connection,
    ConnectionFolder,
    Delivery,
    DeliveryAttempt,
    Document,
    DocumentVersion,
    Dossier,
    FirmApplication,
    Folder,
)

# One failure at least of each class a person may meet (connectors/outcomes.py).
REASONS = {
    "application_deleted": 1,
    "credentials_refused": 2,
    "disconnected": 1,
    "dossier_inactive": 1,
    "dossier_unknown": 2,
    "format_refused": 1,
    "gave_up": 2,
    "not_configured": 1,
    "rejected": 1,
    "too_large": 1,
}


async def _counts(hub: Hub) -> dict[str, int]:
    async with hub.sessions() as session:
        return {
            "documents": await session.scalar(select(func.count()).select_from(Document)) or 0,
            "versions": await session.scalar(select(func.count()).select_from(DocumentVersion))
            or 0,
            "deliveries": await session.scalar(select(func.count()).select_from(Delivery)) or 0,
            "attempts": await session.scalar(select(func.count()).select_from(DeliveryAttempt))
            or 0,
            "connections": await session.scalar(select(func.count()).select_from(Connection)) or 0,
            "applications": await session.scalar(select(func.count()).select_from(FirmApplication))
            or 0,
        }


async def test_the_demo_has_a_month_of_documents_and_deliveries(hub: Hub, demo: DemoInfo) -> None:
    now = datetime.now(UTC)
    added = await seed_activity(hub, now=now)

    assert (added.applications, added.documents, added.versions) == (8, 45, 48)
    assert added.deliveries == {"sent": 32, "pending": 2, **REASONS}
    async with hub.sessions() as session:
        labels = set(
            await session.scalars(
                select(CatalogApp.label).join(
                    FirmApplication, FirmApplication.catalog_app_id == CatalogApp.id
                )
            )
        )
        by_status = dict(
            (
                await session.execute(
                    select(Delivery.status, func.count()).group_by(Delivery.status)
                )
            ).all()
        )
        deliveries = list(await session.scalars(select(Delivery)))
        attempts = dict(
            (
                await session.execute(
                    select(DeliveryAttempt.delivery_id, func.count()).group_by(
                        DeliveryAttempt.delivery_id
                    )
                )
            ).all()
        )
        versions = list(await session.scalars(select(DocumentVersion)))
        codes = list(
            await session.scalars(
                select(Connection.dossier_code_at_app).where(Connection.dossier_code_at_app != "")
            )
        )
    # The deleted one is gone; those offered to contacts are there for ``proposer``.
    assert labels == {
        "OCR Factures — Achats",
        "OCR Factures — Ventes",
        "Notes de frais par e-mail",
        "Start",
        "Co-production",
        "Consultation",
        "Finance mobile",
    }
    assert by_status == {"sent": 32, "failed": 13, "pending": 2}
    assert len(codes) == 24 and all(code[:3] in ("CL-", "CV-") for code in codes)

    for d in deliveries:
        # Every send tried at least once, with one history line per attempt.
        assert d.attempts == attempts[d.id] >= 1
        if d.status == "sent":
            assert d.app_reference and d.sent_at is not None
        elif d.status == "failed":
            # Already told: starting the demo sends no burst of Teams notices.
            assert d.failure_reason in REASONS and d.notified_at is not None
        else:
            # A retry is due later, no further off than the worker's longest wait.
            assert (
                now < d.next_attempt_at <= now + timedelta(seconds=WorkerConfig().retry_after_cap)
            )
    assert (await pending_notices(hub, now + timedelta(minutes=1))).notices == []

    # Spread over the last 30 days, and every file is in the blob store as stored.
    times = sorted(v.created_at for v in versions)
    assert now - timedelta(days=30) <= times[0] and times[-1] < now
    assert times[-1] - times[0] > timedelta(days=25)
    blobs = blob_store(hub.settings)
    for version in versions:
        data = blobs.read(version.sha256)
        assert len(data) == version.size
        assert hashlib.sha256(data).hexdigest() == version.sha256
    assert {v.content_type for v in versions} == {"application/pdf", "image/jpeg", "text/plain"}

    # What the administrator sees: the failed-sends dashboard, activity, the bot's answers.
    admin = await resolve(hub.sessions, DEMO_TENANT_ID, demo.person("administrator").object_id)
    counts = await failure_counts(hub, admin)
    assert counts.total == 13 and dict(counts.by_reason) == REASONS
    assert set(REASONS) == set(FAILURE_REASONS)  # every class a person may meet, on the dashboard
    figures = await activity(hub, admin)
    assert (figures.received, figures.sent, figures.failed, figures.pending) == (48, 32, 13, 2)
    assert sum(1 for day in figures.days if day.received) > 20
    invoices = await find_documents(hub, admin, "facture", limit=50)
    assert len(invoices.items) > 20
    # Newest first, as they were received.
    created = [m.created_at for m in invoices.items]
    assert created == sorted(created, reverse=True)
    statements = await find_documents(hub, admin, "releve")
    assert any(len(m.versions) == 2 for m in statements.items)

    # A collaborator sees the documents of their own portfolio.
    sophie = await resolve(hub.sessions, DEMO_TENANT_ID, DEMO_STAFF[2].object_id)  # Sophie Martin
    mine = await find_documents(hub, sophie, "facture", limit=50)
    assert 0 < len(mine.items) < len(invoices.items)
    status = await dossier_status(hub, sophie, mine.items[0].dossier_code)
    assert {a.application for a in status.applications} >= {"OCR Factures — Achats"}
    assert status.last_deliveries


async def test_running_the_demo_again_adds_nothing(hub: Hub, demo: DemoInfo) -> None:
    await seed_activity(hub)
    before = await _counts(hub)
    again = await seed(hub.sessions)
    added = await seed_activity(hub)

    assert again.dossiers == demo.dossiers == 200
    assert (added.applications, added.connections, added.documents, added.versions) == (0, 0, 0, 0)
    assert added.deliveries == {}
    assert await _counts(hub) == before


async def test_an_earlier_demo_gets_the_sales_ocr_on_ventes_and_the_stand_in(
    hub: Hub, demo: DemoInfo
) -> None:
    """A demo seeded before: the purchases OCR on Achats and Ventes, at an address that never
    answered. Run again, the sales OCR takes Ventes and both point at the stand-in."""
    admin = await resolve(hub.sessions, DEMO_TENANT_ID, demo.person("administrator").object_id)
    async with hub.sessions() as session:
        folders = {
            f.path: f.id
            for f in await session.scalars(select(Folder).where(Folder.firm_id == demo.firm_id))
        }
        dossier = await session.scalar(
            select(Dossier.id).where(Dossier.firm_id == demo.firm_id).order_by(Dossier.code)
        )
    assert dossier is not None
    earlier = await add_application(
        hub,
        admin,
        Definition(
            app="ocr-achats",
            api_key_id="DURAND-7731-ACH",
            secret="demo-secret-never-sent",
            api_url="https://api.ocr-factures.invalid/v2",
            sic_code="SIC-75001",
        ),
    )
    for index, path in enumerate(("Achats", "Ventes")):
        entry = connections.Entry(dossier, True, "CL-4100", add_folder=index > 0)
        await connections.save(hub, admin, earlier.id, folders[path], [entry])

    await seed_activity(hub, partner_url="http://127.0.0.1:8600")
    assert await point_at_partner(hub, "http://127.0.0.1:47001") == 2

    async with hub.sessions() as session:
        served = (
            await session.execute(
                select(CatalogApp.slug, Folder.path)
                .join(FirmApplication, FirmApplication.catalog_app_id == CatalogApp.id)
                .join(Connection, Connection.firm_application_id == FirmApplication.id)
                .join(ConnectionFolder, ConnectionFolder.connection_id == Connection.id)
                .join(Folder, Folder.id == ConnectionFolder.folder_id)
                .where(CatalogApp.slug.in_(("ocr-achats", "ocr-ventes")))
            )
        ).all()
        urls = set(
            await session.scalars(
                select(FirmApplication.api_url).where(FirmApplication.api_url != "")
            )
        )
    assert {path.split("/")[0] for slug, path in served if slug == "ocr-achats"} == {"Achats"}
    assert {path.split("/")[0] for slug, path in served if slug == "ocr-ventes"} == {"Ventes"}
    assert urls == {"http://127.0.0.1:47001"}
