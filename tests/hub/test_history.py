"""History and dashboards (hub/history/, hub/dashboards/): each query's rights, keyset pages,
counts, the trend, the median, retry, and the CSV export. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select, update

from connectors.worker import DeliveryWorker, WorkerConfig
from hub.dashboards import (
    CsvLabels,
    FailureFilters,
    activity,
    failure_counts,
    failure_trend,
    failures,
    failures_csv,
    parse_failure_filters,
    retry_matching,
    safe_cell,
)
from hub.documents import blob_store, list_documents, receive_document
from hub.errors import InvalidInput, NotFound, PermissionDenied
from hub.history import (
    document_history,
    dossier_status,
    find_documents,
    retry,
    sent_today,
    today_in,
)
from hub.identity import Actor, resolve
from hub.notices import pending_notices
from hub.services import Hub
from relais.demo import DemoInfo
from storage.models import (
    AuditEvent,
    ContactDossier,
    Delivery,
    DeliveryAttempt,
    Document,
    DocumentVersion,
    Dossier,
    StaffUser,
)
from tests.connectors.arrange import FakeClock, actor, add_app, connect, delivery, pdf
from tests.fakes.partner import PartnerSandbox


@dataclass
class Scene:
    admin: Actor
    sophie: Actor  # collaborator
    james: Actor  # collaborator
    marc: Actor  # rights manager
    contact: Actor
    app_id: int
    other_app_id: int
    sophie_code: str  # mastered by Sophie
    james_code: str  # mastered by James
    contact_code: str  # the contact's dossier
    docs: dict[str, int]  # name -> document id
    failed: dict[str, int]  # name -> failed delivery id (first application)


async def _codes(hub: Hub, demo: DemoInfo) -> tuple[str, str, str]:
    """Three dossiers with known people: Sophie's (master), James's (master), and the first guest
    contact's, each with Marc (the rights manager) as engagement manager and the administrator as
    master of the contact's, so that who sees what is exactly known."""
    contact = await resolve(hub.sessions, demo.tenant_id, demo.contacts[0].object_id)
    async with hub.sessions() as session, session.begin():
        people = {
            u.display_name: u.id
            for u in await session.scalars(
                select(StaffUser).where(StaffUser.firm_id == demo.firm_id)
            )
        }
        contact_dossier = await session.scalar(
            select(Dossier)
            .join(ContactDossier, ContactDossier.dossier_id == Dossier.id)
            .where(ContactDossier.contact_id == contact.id)
        )
        assert contact_dossier is not None
        others = list(
            await session.scalars(
                select(Dossier)
                .where(
                    Dossier.firm_id == demo.firm_id,
                    Dossier.status == "active",
                    Dossier.id != contact_dossier.id,
                )
                .order_by(Dossier.code)
                .limit(2)
            )
        )
        for dossier, master in zip(
            (others[0], others[1], contact_dossier),
            ("Sophie Martin", "James Walker", "Claire Durand"),
            strict=True,
        ):
            dossier.master_id = people[master]
            dossier.engagement_manager_id = people["Marc Lefèvre"]
            dossier.status = "active"
        return others[0].code, others[1].code, contact_dossier.code


async def _fail(
    hub: Hub, delivery_id: int, reason: str, *, attempts: int = 1, detail: str = ""
) -> None:
    async with hub.sessions() as session, session.begin():
        row = await session.get(Delivery, delivery_id)
        assert row is not None
        await session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id)
            .values(status="failed", failure_reason=reason, attempts=attempts)
        )
        await session.execute(
            insert(DeliveryAttempt),
            [
                {
                    "firm_id": row.firm_id,
                    "delivery_id": delivery_id,
                    "at": datetime.now(UTC),
                    "outcome": "refused",
                    "detail": detail or f"{reason}: refused by the sandbox",
                }
            ],
        )


async def _deliveries_of(hub: Hub, version_id: int) -> list[Delivery]:
    async with hub.sessions() as session:
        return list(
            await session.scalars(
                select(Delivery)
                .where(Delivery.document_version_id == version_id)
                .order_by(Delivery.id)
            )
        )


@pytest.fixture
async def scene(hub: Hub, demo: DemoInfo) -> Scene:
    return await arrange_scene(hub, demo)


async def arrange_scene(hub: Hub, demo: DemoInfo) -> Scene:
    """Failed deliveries on three dossiers whose people are known (see :func:`_codes`)."""
    admin = await actor(hub, demo)
    sophie_code, james_code, contact_code = await _codes(hub, demo)
    app_id = await add_app(hub, demo.firm_id, "ocr-achats", api_url="https://127.0.0.1:9/")
    other = await add_app(hub, demo.firm_id, "juridique", api_url="https://127.0.0.1:9/")
    for code in {sophie_code, james_code, contact_code}:
        await connect(hub.sessions, demo.firm_id, app_id, code, ["Achats"], code_at_app=f"X-{code}")
        await connect(hub.sessions, demo.firm_id, other, code, ["Achats"])
    docs: dict[str, int] = {}
    failed: dict[str, int] = {}
    plan = [
        ("facture-0412.pdf", sophie_code, "dossier_unknown"),
        ("facture-0413.pdf", james_code, "too_large"),
        ("=cmd-0414.pdf", contact_code, "format_refused"),
        ("avoir-0415.pdf", sophie_code, None),
    ]
    for name, code, reason in plan:
        receipt = await receive_document(hub, admin, code, "Achats/2025", name, pdf(name), "panel")
        docs[name] = receipt.document_id
        first, _second = await _deliveries_of(hub, receipt.version_id)
        if reason:
            await _fail(hub, first.id, reason, attempts=2)
            failed[name] = first.id
    return Scene(
        admin=admin,
        sophie=await actor(hub, demo, "collaborator"),
        james=await resolve(hub.sessions, demo.tenant_id, demo.staff[3].object_id),
        marc=await actor(hub, demo, "rights_manager"),
        contact=await resolve(hub.sessions, demo.tenant_id, demo.contacts[0].object_id),
        app_id=app_id,
        other_app_id=other,
        sophie_code=sophie_code,
        james_code=james_code,
        contact_code=contact_code,
        docs=docs,
        failed=failed,
    )


# --------------------------------------------------------------------------- document history


async def test_a_documents_history_lists_versions_deliveries_and_attempts(
    hub: Hub, scene: Scene
) -> None:
    receipt = await receive_document(
        hub, scene.admin, scene.sophie_code, "Achats/2025", "facture-0412.pdf", pdf("v2"), "bot"
    )
    assert receipt.number == 2
    history = await document_history(hub, scene.admin, scene.docs["facture-0412.pdf"])
    assert history.name == "facture-0412.pdf" and history.dossier_code == scene.sophie_code
    assert history.folder == "Achats/2025"
    assert [v.number for v in history.versions] == [2, 1]
    v2, v1 = history.versions
    assert v1.uploaded_by == "Claire Durand" and v1.source == "panel" and v1.size > 0
    assert v1.content_type == "application/pdf"
    assert {d.application for d in v1.deliveries} == {"OCR Factures — Achats", "Gestion juridique"}
    failed = next(d for d in v1.deliveries if d.status == "failed")
    assert failed.failure_reason == "dossier_unknown" and failed.may_retry
    (attempt,) = failed.attempts
    assert attempt.outcome == "refused" and "sandbox" in attempt.detail
    assert all(d.status == "pending" and not d.may_retry for d in v2.deliveries)
    assert all(d.next_attempt_at is not None for d in v2.deliveries)


async def test_history_follows_who_may_see_the_dossier(hub: Hub, scene: Scene) -> None:
    doc = scene.docs["facture-0412.pdf"]  # Sophie's dossier
    assert (await document_history(hub, scene.sophie, doc)).id == doc
    assert (await document_history(hub, scene.marc, doc)).id == doc
    with pytest.raises(NotFound):
        await document_history(hub, scene.james, doc)
    with pytest.raises(NotFound):
        await document_history(hub, scene.contact, doc)
    mine = await document_history(hub, scene.contact, scene.docs["=cmd-0414.pdf"])
    assert mine.dossier_code == scene.contact_code
    assert not any(d.may_retry for v in mine.versions for d in v.deliveries)  # a contact never


async def test_another_firm_never_sees_the_document(hub: Hub, scene: Scene) -> None:
    stranger = Actor(
        firm_id=scene.admin.firm_id + 1000,
        firm_name="Other",
        kind="staff",
        id=scene.admin.id,
        display_name="Other admin",
        locale="en",
        role="administrator",
    )
    with pytest.raises(NotFound):
        await document_history(hub, stranger, scene.docs["facture-0412.pdf"])
    assert (await find_documents(hub, stranger, "facture")).items == []
    assert (await failures(hub, stranger)).items == []
    assert await retry(hub, stranger, list(scene.failed.values())) == 0


# --------------------------------------------------------------------------- find documents


async def test_find_documents_newest_first_with_show_more(hub: Hub, scene: Scene) -> None:
    found = await find_documents(hub, scene.admin, "FACTURE-04", limit=1)
    assert [m.name for m in found.items] == ["facture-0413.pdf"]
    assert found.next_after is not None
    more = await find_documents(hub, scene.admin, "facture-04", limit=1, after=found.next_after)
    assert [m.name for m in more.items] == ["facture-0412.pdf"] and more.next_after is None
    (version,) = more.items[0].versions
    statuses = {d.application: d.status for d in version.deliveries}
    assert statuses == {"OCR Factures — Achats": "failed", "Gestion juridique": "pending"}
    assert version.uploaded_by == "Claire Durand"


async def test_find_documents_follows_rights(hub: Hub, scene: Scene) -> None:
    names = lambda result: sorted(m.name for m in result.items)  # noqa: E731
    assert names(await find_documents(hub, scene.sophie, ".pdf")) == [
        "avoir-0415.pdf",
        "facture-0412.pdf",
    ]
    assert names(await find_documents(hub, scene.james, ".pdf")) == ["facture-0413.pdf"]
    assert names(await find_documents(hub, scene.contact, ".pdf")) == ["=cmd-0414.pdf"]
    assert len((await find_documents(hub, scene.marc, ".pdf")).items) == 4
    assert (await find_documents(hub, scene.admin, "100%_")).items == []  # wildcards are text
    with pytest.raises(InvalidInput):
        await find_documents(hub, scene.admin, "  ")


# --------------------------------------------------------------------------- dossier status


async def test_dossier_status_lists_applications_folders_and_last_deliveries(
    hub: Hub, scene: Scene
) -> None:
    status = await dossier_status(hub, scene.sophie, scene.sophie_code)
    assert [a.application for a in status.applications] == [
        "Gestion juridique",
        "OCR Factures — Achats",
    ]
    ocr = status.applications[1]
    assert ocr.folders == ["Achats"] and ocr.code_at_app == f"X-{scene.sophie_code}"
    assert (ocr.failed, ocr.pending) == (1, 1)
    assert len(status.last_deliveries) == 4 and status.may_retry
    assert status.last_deliveries[0].document == "avoir-0415.pdf"
    with pytest.raises(NotFound):
        await dossier_status(hub, scene.james, scene.sophie_code)
    with pytest.raises(NotFound):
        await dossier_status(hub, scene.contact, scene.sophie_code)
    assert not (await dossier_status(hub, scene.contact, scene.contact_code)).may_retry


# --------------------------------------------------------------------------- failures list


async def test_failures_follow_rights_and_filters(hub: Hub, scene: Scene) -> None:
    everything = await failures(hub, scene.admin)
    assert [r.document for r in everything.items] == [
        "=cmd-0414.pdf",
        "facture-0413.pdf",
        "facture-0412.pdf",
    ]
    row = everything.items[-1]
    assert row.reason == "dossier_unknown" and row.attempts == 2 and row.failed_at is not None
    assert row.application == "OCR Factures — Achats" and row.may_retry
    assert [r.document for r in (await failures(hub, scene.sophie)).items] == ["facture-0412.pdf"]
    assert [r.document for r in (await failures(hub, scene.contact)).items] == ["=cmd-0414.pdf"]
    assert len((await failures(hub, scene.marc)).items) == 3

    by_reason = await failures(hub, scene.admin, FailureFilters(reason="too_large"))
    assert [r.document for r in by_reason.items] == ["facture-0413.pdf"]
    by_dossier = await failures(hub, scene.admin, FailureFilters(dossier=scene.james_code))
    assert [r.document for r in by_dossier.items] == ["facture-0413.pdf"]
    assert (
        await failures(hub, scene.admin, FailureFilters(application=scene.other_app_id))
    ).items == []
    today = datetime.now(UTC).date()
    assert (
        len((await failures(hub, scene.admin, FailureFilters(since=today, until=today))).items) == 3
    )
    assert (
        await failures(hub, scene.admin, FailureFilters(until=today - timedelta(days=1)))
    ).items == []
    with pytest.raises(NotFound):  # a dossier Sophie may not see is no filter for her
        await failures(hub, scene.sophie, FailureFilters(dossier=scene.james_code))


async def test_a_dossier_code_is_found_trimmed_and_in_any_case(hub: Hub, scene: Scene) -> None:
    """One rule wherever a code is typed (hub.portfolio.code_is): the dashboard's filter, the
    bot's ``status``, the REST API's paths (reading and uploading)."""
    typed = f" {scene.james_code.lower()} "
    by_dossier = await failures(hub, scene.admin, FailureFilters(dossier=typed))
    assert [r.document for r in by_dossier.items] == ["facture-0413.pdf"]
    assert (await dossier_status(hub, scene.admin, typed)).code == scene.james_code
    listed = await list_documents(hub, scene.admin, typed)
    assert "facture-0413.pdf" in [d.name for d in listed.items]
    receipt = await receive_document(
        hub, scene.admin, typed, "Achats", "avoir-9.pdf", pdf("a9"), "api"
    )
    async with hub.sessions() as session:
        dossier_id = await session.scalar(
            select(Dossier.id).where(Dossier.code == scene.james_code)
        )
        stored = await session.get(DocumentVersion, receipt.version_id)
        assert stored is not None
        document = await session.get(Document, stored.document_id)
        assert document is not None and document.dossier_id == dossier_id
    with pytest.raises(NotFound):  # the rule does not widen who sees what
        await failures(hub, scene.sophie, FailureFilters(dossier=typed))


async def test_the_code_spelled_exactly_comes_first(hub: Hub, scene: Scene) -> None:
    """A firm whose codes differ only in case (an old import): the one typed exactly wins."""
    async with hub.sessions() as session, session.begin():
        original = await session.scalar(select(Dossier).where(Dossier.code == scene.james_code))
        assert original is not None
        session.add(
            Dossier(
                firm_id=original.firm_id,
                code=scene.james_code.lower(),
                name="Homonyme",
                status="active",
            )
        )
    assert (await dossier_status(hub, scene.admin, scene.james_code)).name == original.name
    lower = await dossier_status(hub, scene.admin, scene.james_code.lower())
    assert lower.name == "Homonyme"


async def test_sent_today_is_the_firms_day_in_its_time_zone(hub: Hub, scene: Scene) -> None:
    """Paris is an hour ahead of UTC in November: 23:30 UTC on the 19th is the 20th there."""
    late = datetime(2026, 11, 19, 23, 30, tzinfo=UTC)
    early = datetime(2026, 11, 19, 22, 30, tzinfo=UTC)  # 23:30 in Paris: the day before
    async with hub.sessions() as session, session.begin():
        for name, at in (("facture-0413.pdf", late), ("=cmd-0414.pdf", early)):
            await session.execute(
                update(Delivery)
                .where(Delivery.id == scene.failed[name])
                .values(status="sent", sent_at=at, failure_reason=None)
            )
    noon = datetime(2026, 11, 20, 11, 0, tzinfo=UTC)
    assert today_in("Europe/Paris", noon) == (
        datetime(2026, 11, 19, 23, 0, tzinfo=UTC),
        datetime(2026, 11, 20, 23, 0, tzinfo=UTC),
    )
    sent = await sent_today(hub, scene.admin, now=noon)
    assert [(e.document, e.dossier_code) for e in sent.items] == [
        ("facture-0413.pdf", scene.james_code)
    ]
    assert (await sent_today(hub, scene.admin, "  factures OCR ", now=noon)).total == 1
    legal = await sent_today(hub, scene.admin, "juridique", now=noon)
    assert (legal.applications, legal.total) == (["Gestion juridique"], 0)
    assert (await sent_today(hub, scene.admin, "paie", now=noon)).applications == []
    assert (await sent_today(hub, scene.sophie, now=noon)).items == []  # not her dossier


def test_filters_are_parsed_and_checked() -> None:
    parsed = parse_failure_filters(
        {"application": "3", "dossier": " ABC001 ", "reason": "gave_up", "since": "2025-01-02"}
    )
    assert parsed == FailureFilters(3, "ABC001", "gave_up", datetime(2025, 1, 2).date(), None)
    assert parsed.query()["dossier"] == "ABC001"
    for bad in ({"reason": "nope"}, {"since": "yesterday"}, {"application": "x"}):
        with pytest.raises(InvalidInput):
            parse_failure_filters(bad)
    with pytest.raises(InvalidInput):
        parse_failure_filters({"since": "2025-02-01", "until": "2025-01-01"})


async def _many_failures(
    hub: Hub, scene: Scene, count: int, *, same_time: bool, prefix: str = "lot"
) -> list[int]:
    """``count`` more failed deliveries on Sophie's dossier, queued at one instant or apart."""
    ids = []
    base = datetime.now(UTC) - timedelta(hours=1)
    for i in range(count):
        receipt = await receive_document(
            hub,
            scene.admin,
            scene.sophie_code,
            "Achats",
            f"{prefix}-{i:03d}.pdf",
            pdf(f"{prefix}{i}"),
            "api",
        )
        first, _ = await _deliveries_of(hub, receipt.version_id)
        await _fail(hub, first.id, "gave_up", attempts=8)
        async with hub.sessions() as session, session.begin():
            at = base if same_time else base + timedelta(seconds=i)
            await session.execute(
                update(Delivery).where(Delivery.id == first.id).values(created_at=at)
            )
        ids.append(first.id)
    return ids


async def test_keyset_pages_are_stable_even_at_one_instant(hub: Hub, scene: Scene) -> None:
    ids = await _many_failures(hub, scene, 7, same_time=True)
    filters = FailureFilters(reason="gave_up")
    seen: list[int] = []
    after = None
    pages = 0
    while True:
        page = await failures(hub, scene.admin, filters, after=after, per_page=3)
        pages += 1
        seen += [r.id for r in page.items]
        # A failure arriving meanwhile does not shift the pages already read.
        if pages == 1:
            await _many_failures(hub, scene, 1, same_time=False, prefix="late")
        if page.next_after is None:
            break
        after = page.next_after
    assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen)) == 7
    assert pages == 3 and seen == sorted(ids, reverse=True)


# --------------------------------------------------------------------------- counts and trend


async def test_counts_by_reason_and_application(hub: Hub, scene: Scene) -> None:
    counts = await failure_counts(hub, scene.admin)
    assert counts.total == 3
    assert dict(counts.by_reason) == {"dossier_unknown": 1, "too_large": 1, "format_refused": 1}
    assert [(a.label, a.count) for a in counts.by_application] == [("OCR Factures — Achats", 3)]
    mine = await failure_counts(hub, scene.sophie)
    assert mine.total == 1 and mine.by_reason == [("dossier_unknown", 1)]
    filtered = await failure_counts(hub, scene.admin, FailureFilters(reason="too_large"))
    assert filtered.total == 1


async def test_trend_has_every_day_and_counts_by_queue_day(hub: Hub, scene: Scene) -> None:
    async with hub.sessions() as session, session.begin():
        three_days_ago = datetime.now(UTC) - timedelta(days=3)
        await session.execute(
            update(Delivery)
            .where(Delivery.id == scene.failed["facture-0413.pdf"])
            .values(created_at=three_days_ago)
        )
        await session.execute(
            update(Delivery)
            .where(Delivery.id == scene.failed["facture-0412.pdf"])
            .values(created_at=datetime.now(UTC) - timedelta(days=45))
        )
    trend = await failure_trend(hub, scene.admin, days=30)
    assert len(trend) == 30 and trend[-1].day == datetime.now(UTC).date()
    by_day = {d.day: d.count for d in trend}
    assert by_day[datetime.now(UTC).date()] == 1
    assert by_day[three_days_ago.date()] == 1
    assert sum(by_day.values()) == 2  # the one from 45 days ago is out of the window
    assert sum(d.count for d in await failure_trend(hub, scene.sophie)) == 0


# --------------------------------------------------------------------------- activity


async def test_activity_counts_received_sent_median_and_queue(hub: Hub, scene: Scene) -> None:
    # Three of the pending deliveries are sent, 60 s, 120 s and 600 s after their upload.
    async with hub.sessions() as session, session.begin():
        pending = list(
            await session.scalars(
                select(Delivery).where(Delivery.status == "pending").order_by(Delivery.id)
            )
        )
        assert len(pending) == 5
        for row, seconds in zip(pending[:3], (60, 120, 600), strict=True):
            created = (
                row.created_at.replace(tzinfo=UTC)
                if row.created_at.tzinfo is None
                else row.created_at
            )
            row.status, row.sent_at, row.app_reference = (
                "sent",
                created + timedelta(seconds=seconds),
                "R",
            )
    view = await activity(hub, scene.admin, days=30)
    assert view.received == 4 and view.sent == 3 and view.failed == 3 and view.pending == 2
    assert view.median_seconds == pytest.approx(120, abs=1)
    today = view.days[-1]
    assert today.received == 4 and today.sent == 3 and sum(today.by_application.values()) == 3
    assert set(view.applications) <= {"OCR Factures — Achats", "Gestion juridique"}
    # An even number: the mean of the two middle ones.
    async with hub.sessions() as session, session.begin():
        row = await session.get(Delivery, pending[3].id)
        assert row is not None
        created = (
            row.created_at.replace(tzinfo=UTC) if row.created_at.tzinfo is None else row.created_at
        )
        row.status, row.sent_at = "sent", created + timedelta(seconds=1000)
    assert (await activity(hub, scene.admin)).median_seconds == pytest.approx(360, abs=1)
    mine = await activity(hub, scene.sophie)
    assert mine.received == 2
    theirs = await activity(hub, scene.contact)
    assert theirs.received == 1 and theirs.sent + theirs.pending == 1 and theirs.failed == 1


# --------------------------------------------------------------------------- retry


async def test_retry_sets_failed_back_to_pending_and_keeps_history(hub: Hub, scene: Scene) -> None:
    target = scene.failed["facture-0412.pdf"]
    assert await retry(hub, scene.sophie, [target, 999_999]) == 1
    row = await delivery(hub.sessions, target)
    # A fresh budget of tries; the earlier attempts stay in the history below.
    assert (row.status, row.attempts, row.failure_reason) == ("pending", 0, None)
    async with hub.sessions() as session:
        attempts = list(
            await session.scalars(
                select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == target)
            )
        )
        events = list(
            await session.scalars(
                select(AuditEvent).where(AuditEvent.action == "deliveries.retried")
            )
        )
    assert len(attempts) == 1  # history intact
    (event,) = events
    assert event.actor == scene.sophie.ref and event.details["count"] == 1
    assert event.details["ids"] == [target]
    # Only failed ones: a second retry of the same (now pending) delivery does nothing.
    assert await retry(hub, scene.sophie, [target]) == 0


async def test_retry_is_refused_to_whoever_may_not_act(hub: Hub, scene: Scene) -> None:
    target = scene.failed["facture-0412.pdf"]  # Sophie's dossier
    with pytest.raises(PermissionDenied):
        await retry(hub, scene.james, [target])
    with pytest.raises(PermissionDenied):
        await retry(hub, scene.contact, [scene.failed["=cmd-0414.pdf"]])
    # A mixed batch: only what may be retried is.
    assert await retry(hub, scene.james, [target, scene.failed["facture-0413.pdf"]]) == 1
    assert (await delivery(hub.sessions, target)).status == "failed"
    assert await retry(hub, scene.marc, [target]) == 1


async def test_retry_all_matching_is_capped_and_says_what_remains(hub: Hub, scene: Scene) -> None:
    await _many_failures(hub, scene, 5, same_time=False)
    result = await retry_matching(hub, scene.admin, FailureFilters(reason="gave_up"), cap=3)
    assert (result.retried, result.remaining) == (3, 2)
    rest = await retry_matching(hub, scene.admin, FailureFilters(reason="gave_up"), cap=3)
    assert (rest.retried, rest.remaining) == (2, 0)
    assert (await failure_counts(hub, scene.admin)).total == 3
    with pytest.raises(PermissionDenied):
        await retry_matching(hub, scene.contact, FailureFilters())


async def test_a_retried_delivery_is_then_sent_by_the_worker(
    hub: Hub, demo: DemoInfo, partner_sandbox: PartnerSandbox
) -> None:
    admin = await actor(hub, demo)
    sophie_code, _, _ = await _codes(hub, demo)
    app = await add_app(hub, demo.firm_id, "ocr-achats", api_url=partner_sandbox.url)
    await connect(hub.sessions, demo.firm_id, app, sophie_code, ["Achats"], code_at_app="OCR-1")
    receipt = await receive_document(
        hub, admin, sophie_code, "Achats", "facture-0500.pdf", pdf("500"), "panel"
    )
    (queued,) = await _deliveries_of(hub, receipt.version_id)
    await _fail(hub, queued.id, "dossier_unknown")  # the code was wrong; now it is fixed
    sophie = await actor(hub, demo, "collaborator")
    assert await retry(hub, sophie, [queued.id]) == 1
    worker = DeliveryWorker(
        hub.sessions,
        blob_store(hub.settings),
        open_secret=hub.vault.open,
        clock=FakeClock(),
        rand=lambda: 0.5,
        config=WorkerConfig(),
    )
    async with worker:
        report = await worker.run_once()
    assert (report.claimed, report.sent) == (1, 1)
    done = await delivery(hub.sessions, queued.id)
    assert done.status == "sent" and done.attempts == 1 and done.app_reference
    history = await document_history(hub, sophie, receipt.document_id)
    (entry,) = history.versions[0].deliveries
    assert [a.outcome for a in entry.attempts] == ["refused", "sent"]
    assert entry.app_reference == done.app_reference


async def test_a_send_waiting_after_faults_shows_its_tries_and_its_next_one(
    hub: Hub, demo: DemoInfo, partner_sandbox: PartnerSandbox
) -> None:
    admin = await actor(hub, demo)
    sophie_code, _, _ = await _codes(hub, demo)
    app = await add_app(hub, demo.firm_id, "ocr-achats", api_url=partner_sandbox.url)
    await connect(hub.sessions, demo.firm_id, app, sophie_code, ["Achats"], code_at_app="OCR-1")
    receipt = await receive_document(
        hub, admin, sophie_code, "Achats", "facture-0600.pdf", pdf("600"), "panel"
    )
    partner_sandbox.fail_next(2, 503)
    clock = FakeClock()
    worker = DeliveryWorker(
        hub.sessions,
        blob_store(hub.settings),
        open_secret=hub.vault.open,
        clock=clock,
        rand=lambda: 0.5,
        config=WorkerConfig(),
    )
    async with worker:
        assert (await worker.run_once()).retried == 1
        clock.advance(2)
        assert (await worker.run_once()).retried == 1
    (queued,) = await _deliveries_of(hub, receipt.version_id)
    assert queued.status == "pending"

    history = await document_history(hub, admin, receipt.document_id)
    (entry,) = history.versions[0].deliveries
    assert [a.outcome for a in entry.attempts] == ["fault", "fault"]
    assert all("503" in a.detail for a in entry.attempts)
    assert entry.next_attempt_at == queued.next_attempt_at > clock.now
    assert entry.tries == 2

    (found,) = (await find_documents(hub, admin, "facture-0600")).items
    (status,) = found.versions[0].deliveries
    assert (status.status, status.tries) == ("pending", 2)
    assert status.next_attempt_at == queued.next_attempt_at


# --------------------------------------------------------------------------- CSV


def test_cells_that_look_like_formulas_are_quoted() -> None:
    for text in ("=1+1", "+33 6", "-2", "@SUM(A1)", "\tx", "\rx"):
        assert safe_cell(text) == "'" + text
    assert (
        safe_cell("facture.pdf") == "facture.pdf" and safe_cell(None) == "" and safe_cell(3) == "3"
    )


async def test_csv_export_has_bom_semicolons_and_safe_cells(hub: Hub, scene: Scene) -> None:
    labels = CsvLabels(header=[f"h{i}" for i in range(10)], reason=lambda r: f"reason {r}")
    chunks = [c async for c in failures_csv(hub, scene.admin, FailureFilters(), labels)]
    data = b"".join(chunks)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data[3:].decode("utf-8")), delimiter=";"))
    assert rows[0] == [f"h{i}" for i in range(10)]
    assert len(rows) == 4
    injected = next(r for r in rows if "cmd" in r[4])
    assert injected[4] == "'=cmd-0414.pdf" and injected[7] == "reason format_refused"
    mine = b"".join([c async for c in failures_csv(hub, scene.sophie, FailureFilters(), labels)])
    assert mine.count(b"\r\n") == 2  # header and Sophie's one failure


async def test_csv_export_streams_page_by_page(hub: Hub, scene: Scene, monkeypatch: Any) -> None:
    import hub.dashboards.export as export

    monkeypatch.setattr(export, "EXPORT_PAGE", 2)
    labels = CsvLabels(header=["a"], reason=str)
    chunks = [c async for c in failures_csv(hub, scene.admin, FailureFilters(), labels)]
    assert len(chunks) == 3  # header, 2 rows, 1 row


# --------------------------------------------------------------------------- deleted applications


async def test_a_deleted_applications_sends_stay_in_history_and_dashboards(
    hub: Hub, scene: Scene
) -> None:
    from hub.applications import delete_application

    label = "OCR Factures — Achats"
    # One more document, sent to the OCR before it goes: it stays in the activity figures.
    receipt = await receive_document(
        hub, scene.admin, scene.sophie_code, "Achats", "facture-0416.pdf", pdf("416"), "panel"
    )
    sent, _ = await _deliveries_of(hub, receipt.version_id)
    async with hub.sessions() as session, session.begin():
        await session.execute(
            update(Delivery)
            .where(Delivery.id == sent.id)
            .values(status="sent", sent_at=datetime.now(UTC), app_reference="OCR-416")
        )

    deleted = await delete_application(hub, scene.admin, scene.app_id)
    # avoir-0415.pdf was still waiting for the OCR: it will never go, and says why.
    assert deleted.cancelled == 1

    history = await document_history(hub, scene.sophie, scene.docs["facture-0412.pdf"])
    (version,) = history.versions
    gone = next(d for d in version.deliveries if d.application == label)
    assert gone.application_deleted and gone.status == "failed" and not gone.may_retry
    assert gone.failure_reason == "dossier_unknown" and len(gone.attempts) == 1
    other = next(d for d in version.deliveries if d.application != label)
    assert not other.application_deleted and other.status == "pending"
    waited = await document_history(hub, scene.admin, scene.docs["avoir-0415.pdf"])
    cancelled = next(d for d in waited.versions[0].deliveries if d.application == label)
    assert (cancelled.status, cancelled.failure_reason) == ("failed", "application_deleted")
    # Nothing of it can be sent again: the dossier master's Teams notice leaves it out.
    round_ = await pending_notices(hub, datetime.now(UTC) + timedelta(hours=1))
    assert cancelled.id not in {i for n in round_.notices for i in n.delivery_ids}
    found = await find_documents(hub, scene.admin, "facture-0416")
    assert {(d.application, d.status) for d in found.items[0].versions[0].deliveries} == {
        (label, "sent"),
        ("Gestion juridique", "pending"),
    }

    # The failures dashboard: every failure still there, named, not offered for retry.
    page = await failures(hub, scene.admin)
    assert [r.document for r in page.items] == [
        "avoir-0415.pdf",
        "=cmd-0414.pdf",
        "facture-0413.pdf",
        "facture-0412.pdf",
    ]
    assert all(r.application == label and r.application_deleted for r in page.items)
    assert not any(r.may_retry for r in page.items)
    assert page.items[-1].dossier_code == scene.sophie_code and page.items[-1].failed_at
    counts = await failure_counts(hub, scene.admin)
    assert counts.total == 4 and dict(counts.by_reason)["application_deleted"] == 1
    assert [(a.id, a.label, a.count) for a in counts.by_application] == [(None, label, 4)]
    # Portfolio and dossier filters go by the dossier kept on the delivery.
    mine = await failures(hub, scene.sophie)
    assert [r.document for r in mine.items] == ["avoir-0415.pdf", "facture-0412.pdf"]
    by_dossier = await failures(hub, scene.admin, FailureFilters(dossier=scene.james_code))
    assert [r.document for r in by_dossier.items] == ["facture-0413.pdf"]
    assert (await failure_counts(hub, scene.contact)).total == 1
    # Nothing to send to any more: a retry does nothing and says so.
    assert await retry(hub, scene.sophie, [scene.failed["facture-0412.pdf"]]) == 0
    nothing = await retry_matching(hub, scene.admin, FailureFilters())
    assert (nothing.retried, nothing.remaining) == (0, 0)

    status = await dossier_status(hub, scene.admin, scene.sophie_code)
    assert [a.application for a in status.applications] == ["Gestion juridique"]
    assert {(d.document, d.application) for d in status.last_deliveries} >= {
        ("facture-0412.pdf", label),
        ("facture-0416.pdf", label),
    }
    assert len(status.last_deliveries) == 6
    assert not any(d.may_retry for d in status.last_deliveries if d.application == label)

    labels = CsvLabels(header=[f"h{i}" for i in range(10)], reason=lambda r: f"reason {r}")
    data = b"".join([c async for c in failures_csv(hub, scene.admin, FailureFilters(), labels)])
    rows = list(csv.reader(io.StringIO(data[3:].decode("utf-8")), delimiter=";"))[1:]
    assert len(rows) == 4 and {r[6] for r in rows} == {label}
    assert "reason application_deleted" in {r[7] for r in rows}

    view = await activity(hub, scene.admin)
    assert view.sent == 1 and view.days[-1].by_application == {label: 1}


async def test_the_worker_refuses_what_waited_for_a_deleted_application(
    hub: Hub, demo: DemoInfo, partner_sandbox: PartnerSandbox
) -> None:
    """A delivery being sent when its application was deleted (its worker died): the next worker
    ends it failed with the reason, and goes on sending the rest."""
    from hub.applications import delete_application

    admin = await actor(hub, demo)
    sophie_code, _, _ = await _codes(hub, demo)
    ocr = await add_app(hub, demo.firm_id, "ocr-achats", api_url=partner_sandbox.url)
    other = await add_app(hub, demo.firm_id, "ocr-ventes", api_url=partner_sandbox.url)
    await connect(hub.sessions, demo.firm_id, ocr, sophie_code, ["Achats"], code_at_app="OCR-1")
    await connect(hub.sessions, demo.firm_id, other, sophie_code, ["Ventes"], code_at_app="OCR-1")
    first = await receive_document(hub, admin, sophie_code, "Achats", "a.pdf", pdf("a"), "panel")
    (stuck,) = await _deliveries_of(hub, first.version_id)
    async with hub.sessions() as session, session.begin():
        await session.execute(
            update(Delivery)
            .where(Delivery.id == stuck.id)
            .values(
                status="sending",
                attempts=1,
                lease_until=datetime.now(UTC) - timedelta(minutes=1),
            )
        )
    deleted = await delete_application(hub, admin, ocr)
    assert deleted.cancelled == 0  # it was being sent: left to the worker
    later = await receive_document(hub, admin, sophie_code, "Ventes", "b.pdf", pdf("b"), "panel")
    (live,) = await _deliveries_of(hub, later.version_id)

    clock = FakeClock()
    worker = DeliveryWorker(
        hub.sessions,
        blob_store(hub.settings),
        open_secret=hub.vault.open,
        clock=clock,
        rand=lambda: 0.5,
        config=WorkerConfig(),
    )
    async with worker:
        report = await worker.run_once()
        assert (report.claimed, report.refused, report.sent) == (2, 1, 1)
        assert (await worker.run_once()).claimed == 0
    ended = await delivery(hub.sessions, stuck.id)
    assert (ended.status, ended.failure_reason) == ("failed", "application_deleted")
    assert (await delivery(hub.sessions, live.id)).status == "sent"
    history = await document_history(hub, admin, first.document_id)
    (entry,) = history.versions[0].deliveries
    assert entry.application == "OCR Factures — Achats" and entry.application_deleted
    assert [a.outcome for a in entry.attempts] == ["refused"]
    assert "deleted" in entry.attempts[0].detail
    assert list(partner_sandbox.by_key()) == [live.idempotency_key]
