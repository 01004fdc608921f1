"""The delivery worker against the real partner sandbox and the real SMTP fake: what arrives,
what is refused and why, what is retried, and that nothing is sent twice."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from connectors.collection_email import message_id
from connectors.mail import SmtpConfig
from connectors.outcomes import Outcome, Sent
from connectors.parcel import Parcel
from connectors.registry import ConnectorEnv, default_registry
from connectors.worker import BatchReport, DeliveryWorker, WorkerConfig
from hub.documents import VersionReceipt, blob_store, receive_document
from hub.history import retry
from hub.services import Hub
from relais.app import build_worker
from storage.models import Delivery
from tests import scenes
from tests.connectors.arrange import (
    PDF,
    PNG,
    FakeClock,
    add_app,
    attempts,
    collection_email_delivery,
    deliveries,
    delivery,
    pdf,
    set_connection_active,
    sha,
)
from tests.fakes.partner import SANDBOX_KEY_ID, SANDBOX_SECRET, PartnerSandbox
from tests.fakes.smtp import FakeSmtp
from tests.scenes import Office

CODE_AT_APP = "OCR-4471"
NO_LIMITS: dict[str, Any] = {"max_size": None, "accepted_formats": []}


def new_worker(
    hub: Hub, clock: FakeClock, *, smtp: SmtpConfig | None = None, **config: Any
) -> DeliveryWorker:
    return DeliveryWorker(
        hub.sessions,
        blob_store(hub.settings),
        open_secret=hub.vault.open,
        smtp=smtp,
        clock=clock,
        rand=lambda: 0.5,
        config=WorkerConfig(**config),
    )


@dataclass
class Scene:
    receipt: VersionReceipt
    delivery: Delivery
    code: str


async def one_document(
    hub: Hub,
    office: Office,
    sandbox: PartnerSandbox,
    *,
    data: bytes = PDF,
    name: str = "facture-0412.pdf",
    limits: dict[str, Any] | None = None,
    secret: str = SANDBOX_SECRET,
    slug: str = "ocr-achats",
) -> Scene:
    code = office.dossier.code
    app = await add_app(
        hub, office.firm.id, slug, api_url=f" {sandbox.url}/ ", secret=secret, limits=limits
    )
    await scenes.connection(
        hub.sessions, office.firm.id, app, office.dossier.id, ["Achats"], code_at_app=CODE_AT_APP
    )
    admin = await scenes.actor(hub.sessions, office.firm, office.admin)
    receipt = await receive_document(hub, admin, code, "Achats/2025", name, data, "panel")
    (created,) = await deliveries(hub.sessions, receipt.version_id)
    return Scene(receipt, created, code)


# --------------------------------------------------------------------------- sent


async def test_an_api_delivery_arrives_once_with_the_dossier_code_and_key(
    hub: Hub, office: Office, partner_sandbox: PartnerSandbox
) -> None:
    scene = await one_document(hub, office, partner_sandbox)
    clock = FakeClock()
    async with new_worker(hub, clock) as worker:
        report = await worker.run_once()
        assert (report.claimed, report.sent) == (1, 1)
        assert (await worker.run_once()).claimed == 0

    (received,) = partner_sandbox.documents.items
    assert received.dossier_code == CODE_AT_APP
    assert received.file_name == "facture-0412.pdf"
    assert received.sha256 == sha(PDF) and received.content_type == "application/pdf"
    assert received.idempotency_key == scene.delivery.idempotency_key
    assert received.document_type == "purchases" and received.api_key_id == SANDBOX_KEY_ID
    done = await delivery(hub.sessions, scene.delivery.id)
    assert (done.status, done.app_reference, done.attempts) == ("sent", received.reference, 1)
    assert done.sent_at is not None and done.lease_until is None
    (attempt,) = await attempts(hub.sessions, scene.delivery.id)
    assert attempt.outcome == "sent" and received.reference in attempt.detail


async def test_a_collection_email_delivery_arrives_with_the_document_attached(
    hub: Hub, office: Office, fake_smtp: FakeSmtp
) -> None:
    address, created = await collection_email_delivery(hub, office)
    smtp = SmtpConfig(host=fake_smtp.host, port=fake_smtp.port, sender="relais@cabinet.example")
    async with new_worker(hub, FakeClock(), smtp=smtp) as worker:
        assert (await worker.run_once()).sent == 1

    (mail,) = await fake_smtp.messages.await_for(1)
    assert mail.rcpt_tos == [address]
    assert mail.message["Message-ID"] == message_id(
        created.idempotency_key, "relais@cabinet.example"
    )
    assert mail.message["From"] == "relais@cabinet.example"
    (attached,) = list(mail.message.iter_attachments())
    assert attached.get_filename() == "Reçu été.pdf"
    assert attached.get_content_type() == "application/pdf"
    assert attached.get_content() == PDF
    done = await delivery(hub.sessions, created.id)
    assert done.status == "sent" and done.app_reference == mail.message["Message-ID"]


async def test_an_application_may_require_its_own_sender(
    hub: Hub, office: Office, fake_smtp: FakeSmtp
) -> None:
    code = office.dossier.code
    app = await add_app(
        hub,
        office.firm.id,
        "pre-compta-email",
        fields={"collection_sender": "scan@cabinet.example"},
    )
    await scenes.connection(
        hub.sessions,
        office.firm.id,
        app,
        office.dossier.id,
        ["Achats"],
        collection_email="in@c.example",
    )
    admin = await scenes.actor(hub.sessions, office.firm, office.admin)
    await receive_document(hub, admin, code, "Achats", "a.pdf", PDF, "bot")
    smtp = SmtpConfig(host=fake_smtp.host, port=fake_smtp.port, sender="relais@cabinet.example")
    async with new_worker(hub, FakeClock(), smtp=smtp) as worker:
        await worker.run_once()
    (mail,) = await fake_smtp.messages.await_for(1)
    assert mail.mail_from == "scan@cabinet.example"


# --------------------------------------------------------------------------- refused for good


@pytest.mark.parametrize(
    ("sandbox_setup", "limits", "data", "secret", "reason"),
    [
        ({"dossiers": {"SOMETHING-ELSE"}}, None, PDF, SANDBOX_SECRET, "dossier_unknown"),
        ({"inactive": {CODE_AT_APP}}, None, PDF, SANDBOX_SECRET, "dossier_inactive"),
        ({}, None, PDF, "wrong-secret", "credentials_refused"),
        ({"max_size": 10}, NO_LIMITS, PDF, SANDBOX_SECRET, "too_large"),
        (
            {"accepted_formats": {"application/pdf"}},
            NO_LIMITS,
            PNG,
            SANDBOX_SECRET,
            "format_refused",
        ),
    ],
)
async def test_the_applications_refusals_end_as_classified_failures_without_retry(
    hub: Hub,
    office: Office,
    partner_sandbox: PartnerSandbox,
    sandbox_setup: dict[str, Any],
    limits: dict[str, Any] | None,
    data: bytes,
    secret: str,
    reason: str,
) -> None:
    for key, value in sandbox_setup.items():
        setattr(partner_sandbox, key, value)
    scene = await one_document(
        hub, office, partner_sandbox, data=data, limits=limits, secret=secret
    )
    clock = FakeClock()
    async with new_worker(hub, clock) as worker:
        assert (await worker.run_once()).refused == 1
        clock.advance(7200)
        assert (await worker.run_once()).claimed == 0
    failed = await delivery(hub.sessions, scene.delivery.id)
    assert (failed.status, failed.failure_reason, failed.attempts) == ("failed", reason, 1)
    assert partner_sandbox.requests == 1 and len(partner_sandbox.documents) == 0
    (attempt,) = await attempts(hub.sessions, scene.delivery.id)
    assert attempt.outcome == "refused" and reason in attempt.detail
    # The history shows the application's message for people, not its JSON.
    assert "{" not in attempt.detail


@pytest.mark.parametrize(
    ("limits", "data", "reason"),
    [
        ({"max_size": 16}, PDF, "too_large"),
        # A text file named .pdf: the format is the detected one, not the extension.
        (None, b"just some text, not a PDF\n", "format_refused"),
    ],
)
async def test_relais_checks_the_applications_limits_before_calling_it(
    hub: Hub,
    office: Office,
    partner_sandbox: PartnerSandbox,
    limits: dict[str, Any] | None,
    data: bytes,
    reason: str,
) -> None:
    scene = await one_document(hub, office, partner_sandbox, data=data, limits=limits)
    async with new_worker(hub, FakeClock()) as worker:
        assert (await worker.run_once()).refused == 1
    failed = await delivery(hub.sessions, scene.delivery.id)
    assert (failed.status, failed.failure_reason) == ("failed", reason)
    assert partner_sandbox.requests == 0


async def test_a_connection_switched_off_before_the_send_sends_nothing(
    hub: Hub, office: Office, partner_sandbox: PartnerSandbox
) -> None:
    scene = await one_document(hub, office, partner_sandbox)
    await set_connection_active(hub.sessions, scene.delivery.connection_id, False)
    async with new_worker(hub, FakeClock()) as worker:
        await worker.run_once()
    failed = await delivery(hub.sessions, scene.delivery.id)
    assert (failed.status, failed.failure_reason) == ("failed", "disconnected")
    assert partner_sandbox.requests == 0


# --------------------------------------------------------------------------- passing faults


async def test_server_errors_are_retried_with_backoff_until_sent(
    hub: Hub, office: Office, partner_sandbox: PartnerSandbox
) -> None:
    scene = await one_document(hub, office, partner_sandbox)
    partner_sandbox.fail_next(2, 503)
    clock = FakeClock()
    async with new_worker(hub, clock) as worker:
        assert (await worker.run_once()).retried == 1
        waiting = await delivery(hub.sessions, scene.delivery.id)
        assert waiting.status == "pending" and waiting.attempts == 1
        assert (await worker.run_once()).claimed == 0  # not due yet
        clock.advance(1.51)  # equal jitter, rand 0.5: (0.5 + 0.5 × 0.5) × base 2 s × 2^0
        assert (await worker.run_once()).retried == 1
        clock.advance(2.9)
        assert (await worker.run_once()).claimed == 0  # second backoff is 3 s
        clock.advance(0.11)
        assert (await worker.run_once()).sent == 1
    done = await delivery(hub.sessions, scene.delivery.id)
    assert (done.status, done.attempts) == ("sent", 3)
    assert [a.outcome for a in await attempts(hub.sessions, scene.delivery.id)] == [
        "fault",
        "fault",
        "sent",
    ]
    assert len(partner_sandbox.documents) == 1


async def test_429_is_retried_no_sooner_than_retry_after(
    hub: Hub, office: Office, partner_sandbox: PartnerSandbox
) -> None:
    scene = await one_document(hub, office, partner_sandbox)
    partner_sandbox.fail_next(1, 429, retry_after="120")
    clock = FakeClock()
    async with new_worker(hub, clock) as worker:
        assert (await worker.run_once()).retried == 1
        clock.advance(119)
        assert (await worker.run_once()).claimed == 0
        clock.advance(2)
        assert (await worker.run_once()).sent == 1
    assert (await delivery(hub.sessions, scene.delivery.id)).status == "sent"


async def test_a_timeout_is_a_passing_fault(
    hub: Hub, office: Office, partner_sandbox: PartnerSandbox
) -> None:
    scene = await one_document(hub, office, partner_sandbox)
    partner_sandbox.hang_seconds = 10
    partner_sandbox.fail_next(1, "hang")
    clock = FakeClock()
    async with new_worker(hub, clock, request_timeout=0.3) as worker:
        assert (await worker.run_once()).retried == 1
        (fault,) = await attempts(hub.sessions, scene.delivery.id)
        assert "timeout" in fault.detail
        clock.advance(60)
        assert (await worker.run_once()).sent == 1
    assert len(partner_sandbox.documents) == 1


async def due(hub: Hub) -> datetime | None:
    """When the worker has something to do next: the earliest pending delivery's next try."""
    async with hub.sessions() as session:
        return await session.scalar(
            select(func.min(Delivery.next_attempt_at)).where(Delivery.status == "pending")
        )


async def run_until_settled(
    worker: DeliveryWorker, clock: FakeClock, hub: Hub, *, heal: Callable[[datetime], None]
) -> BatchReport:
    """The worker's rounds, the clock moved to each next try (no waiting) until nothing is
    pending; ``heal`` is told the time before each round (the partner's outage ends there)."""
    total = BatchReport()
    for _ in range(1000):
        heal(clock.now)
        total.add(await worker.run_once())
        moment = await due(hub)
        if moment is None:
            return total
        clock.now = max(clock.now, moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    raise AssertionError("the deliveries never settled")


async def more_documents(hub: Hub, office: Office, count: int) -> list[Delivery]:
    admin = await scenes.actor(hub.sessions, office.firm, office.admin)
    created = []
    for n in range(count):
        receipt = await receive_document(
            hub, admin, office.dossier.code, "Achats/2025", f"facture-{n}.pdf", pdf(str(n)), "api"
        )
        created.extend(await deliveries(hub.sessions, receipt.version_id))
    return created


async def test_an_hour_long_outage_loses_nothing_and_sends_each_document_once(
    hub: Hub, office: Office, partner_sandbox: PartnerSandbox
) -> None:
    scene = await one_document(hub, office, partner_sandbox)
    queued = [scene.delivery, *await more_documents(hub, office, 5)]
    partner_sandbox.fail_share(1.0, 503)
    clock = FakeClock()
    back_at = clock.now + timedelta(hours=1)

    def partner_back(now: datetime) -> None:
        if now >= back_at:
            partner_sandbox.heal()

    async with new_worker(hub, clock) as worker:
        report = await run_until_settled(worker, clock, hub, heal=partner_back)

    assert report.gave_up == 0 and report.sent == len(queued)
    assert report.retried > 8 * len(queued)  # more tries than the old limit of 8, all passing
    received = partner_sandbox.by_key()
    assert sorted(received) == sorted(d.idempotency_key for d in queued)
    assert len(partner_sandbox.documents) == len(queued) and not partner_sandbox.duplicates.items
    for queued_one in queued:
        done = await delivery(hub.sessions, queued_one.id)
        assert done.status == "sent" and done.failure_reason is None
        tries = await attempts(hub.sessions, done.id)
        assert [a.outcome for a in tries][-1] == "sent" and len(tries) == done.attempts
        # Capped waits: back within 15 minutes of the partner's return, never two at once.
        gaps = [(b.at - a.at).total_seconds() for a, b in pairwise(tries)]
        assert all(1 <= gap <= 900 for gap in gaps)
        assert tries[-1].at - back_at <= timedelta(minutes=15)


async def test_a_partner_failing_half_the_time_receives_all_sixty_documents_once(
    hub: Hub, office: Office, partner_sandbox: PartnerSandbox
) -> None:
    # Before the horizon, 8 attempts at most: 2 of these 60 ended "gave_up" (issue 11).
    scene = await one_document(hub, office, partner_sandbox)
    queued = [scene.delivery, *await more_documents(hub, office, 59)]
    partner_sandbox.fail_share(0.5, 503)
    clock = FakeClock()
    async with new_worker(hub, clock) as worker:
        report = await run_until_settled(worker, clock, hub, heal=lambda now: None)
    assert (report.sent, report.gave_up) == (60, 0)
    assert sorted(partner_sandbox.by_key()) == sorted(d.idempotency_key for d in queued)
    assert len(partner_sandbox.documents) == 60 and not partner_sandbox.duplicates.items


async def test_a_partner_down_past_the_horizon_gives_up_at_the_horizon_not_before(
    hub: Hub, office: Office, partner_sandbox: PartnerSandbox
) -> None:
    scene = await one_document(hub, office, partner_sandbox)
    partner_sandbox.fail_share(1.0, 500)
    clock = FakeClock()
    horizon = 6 * 3600
    async with new_worker(hub, clock, retry_horizon=horizon) as worker:
        first = clock.now
        report = await run_until_settled(worker, clock, hub, heal=lambda now: None)
        assert report.gave_up == 1 and report.sent == 0
        clock.advance(3600)
        assert (await worker.run_once()).claimed == 0  # given up: not tried again
    failed = await delivery(hub.sessions, scene.delivery.id)
    assert (failed.status, failed.failure_reason) == ("failed", "gave_up")
    tries = await attempts(hub.sessions, scene.delivery.id)
    assert len(tries) == failed.attempts == partner_sandbox.requests
    assert all(t.at - first < timedelta(seconds=horizon) for t in tries[:-1])
    assert tries[-1].at - first == timedelta(seconds=horizon)  # the last try, on the horizon


async def test_the_horizon_counts_again_from_a_person_sending_it_again(
    hub: Hub, office: Office, partner_sandbox: PartnerSandbox
) -> None:
    scene = await one_document(hub, office, partner_sandbox)
    partner_sandbox.fail_share(1.0, 503)
    clock = FakeClock()
    async with new_worker(hub, clock, retry_horizon=600) as worker:
        assert (await run_until_settled(worker, clock, hub, heal=lambda now: None)).gave_up == 1
        clock.advance(86400)
        admin = await scenes.actor(hub.sessions, office.firm, office.admin)
        assert await retry(hub, admin, [scene.delivery.id]) == 1
        async with hub.sessions() as session, session.begin():
            await session.execute(
                update(Delivery)
                .where(Delivery.id == scene.delivery.id)
                .values(next_attempt_at=clock.now)
            )
        again = clock.now
        report = await run_until_settled(worker, clock, hub, heal=lambda now: None)
    assert report.gave_up == 1 and report.retried >= 3  # a fresh 10 minutes, not none
    tries = await attempts(hub.sessions, scene.delivery.id)
    assert tries[-1].at - again == timedelta(seconds=600)


async def test_a_retry_after_beyond_the_horizon_gives_up_rather_than_ignore_it(
    hub: Hub, office: Office, partner_sandbox: PartnerSandbox
) -> None:
    scene = await one_document(hub, office, partner_sandbox)
    partner_sandbox.fail_next(1, 429, retry_after="1800")
    clock = FakeClock()
    async with new_worker(hub, clock, retry_horizon=900) as worker:
        assert (await worker.run_once()).gave_up == 1
    failed = await delivery(hub.sessions, scene.delivery.id)
    assert (failed.status, failed.failure_reason) == ("failed", "gave_up")


async def test_the_served_worker_takes_its_horizon_from_the_settings(hub: Hub) -> None:
    hub.settings.retry_horizon_seconds = 7200
    async with build_worker(hub, WorkerConfig(poll_interval=3600)) as worker:
        assert worker.config.retry_horizon == 7200 and worker.config.poll_interval == 3600
    async with build_worker(hub) as worker:
        assert worker.config.retry_horizon == 7200


def test_backoff_is_exponential_with_equal_jitter_and_capped(hub: Hub) -> None:
    worker = DeliveryWorker(
        hub.sessions, blob_store(hub.settings), open_secret=str, rand=lambda: 1.0
    )
    assert [worker.backoff(n, None) for n in (1, 2, 3, 4)] == [2, 4, 8, 16]
    assert worker.backoff(30, None) == 900  # 15 minutes at most between two tries
    assert worker.backoff(10_000, None) == 900
    assert worker.backoff(1, 90) == 90  # Retry-After wins over a shorter draw
    assert worker.backoff(1, 86400) == 3600  # and is capped
    worker.rand = lambda: 0.0
    # Never back at once: at least half the bound.
    assert [worker.backoff(n, None) for n in (1, 5, 30)] == [1, 16, 450]


# --------------------------------------------------------------------------- a dead worker


async def test_a_delivery_left_sending_by_a_dead_worker_is_taken_back_after_its_lease(
    hub: Hub, office: Office, partner_sandbox: PartnerSandbox
) -> None:
    scene = await one_document(hub, office, partner_sandbox)
    clock = FakeClock()
    dead = new_worker(hub, clock, lease_seconds=60)
    # The dead worker claimed the delivery and had sent it when it died, before recording it.
    claimed = await dead._claim(clock())
    assert list(claimed) == [scene.delivery.id]
    async with httpx.AsyncClient() as client:
        first = await client.post(
            f"{partner_sandbox.url}/documents",
            headers={
                "X-Api-Key-Id": SANDBOX_KEY_ID,
                "Authorization": f"Bearer {SANDBOX_SECRET}",
                "Idempotency-Key": scene.delivery.idempotency_key,
            },
            data={"dossier_code": CODE_AT_APP, "file_name": "facture-0412.pdf"},
            files={"file": ("facture-0412.pdf", PDF, "application/pdf")},
        )
    await dead.aclose()

    async with new_worker(hub, clock, lease_seconds=60) as survivor:
        clock.advance(59)
        assert (await survivor.run_once()).claimed == 0  # the lease still holds
        clock.advance(2)
        assert (await survivor.run_once()).sent == 1

    assert len(partner_sandbox.documents) == 1
    (duplicate,) = partner_sandbox.duplicates.items
    assert duplicate.idempotency_key == scene.delivery.idempotency_key
    done = await delivery(hub.sessions, scene.delivery.id)
    assert done.app_reference == first.json()["reference"] == duplicate.reference
    assert done.attempts == 2


async def test_a_late_answer_does_not_overwrite_the_worker_that_took_over(
    hub: Hub, office: Office, partner_sandbox: PartnerSandbox
) -> None:
    scene = await one_document(hub, office, partner_sandbox)
    clock = FakeClock()
    slow = new_worker(hub, clock, lease_seconds=60)
    claimed = await slow._claim(clock())
    jobs = await slow._load(claimed)
    clock.advance(61)
    async with new_worker(hub, clock) as survivor:
        assert (await survivor.run_once()).sent == 1
    # The slow worker's answer finally comes back: a fault that would reschedule the delivery.
    from connectors.outcomes import Fault
    from connectors.worker import BatchReport

    report = BatchReport()
    async with hub.sessions() as session, session.begin():
        await slow.record(session, [(jobs[0], Fault("late"))], report)
    await slow.aclose()
    assert report.superseded == 1
    assert (await delivery(hub.sessions, scene.delivery.id)).status == "sent"


# --------------------------------------------------------------------------- the registry


async def test_a_vendor_connector_is_registered_without_touching_the_worker(
    hub: Hub, office: Office, partner_sandbox: PartnerSandbox
) -> None:
    received: list[Parcel] = []

    class VendorConnector:
        async def send(self, parcel: Parcel) -> Outcome:
            received.append(parcel)
            return Sent("VENDOR-1")

    def vendor(env: ConnectorEnv) -> VendorConnector:
        return VendorConnector()

    scene = await one_document(hub, office, partner_sandbox, slug="juridique")
    registry = default_registry()
    registry.register("api", vendor, slug="juridique")
    worker = DeliveryWorker(
        hub.sessions,
        blob_store(hub.settings),
        open_secret=hub.vault.open,
        registry=registry,
        clock=FakeClock(),
    )
    async with worker:
        assert (await worker.run_once()).sent == 1
    (parcel,) = received
    assert parcel.data == PDF and parcel.target.secret == SANDBOX_SECRET
    assert parcel.target.api_url == partner_sandbox.url + "/"
    assert (await delivery(hub.sessions, scene.delivery.id)).app_reference == "VENDOR-1"
    assert partner_sandbox.requests == 0


async def test_many_deliveries_are_sent_with_bounded_concurrency(
    hub: Hub, office: Office, partner_sandbox: PartnerSandbox
) -> None:
    code = office.dossier.code
    app = await add_app(hub, office.firm.id, "ocr-achats", api_url=partner_sandbox.url)
    await scenes.connection(hub.sessions, office.firm.id, app, office.dossier.id, ["Achats"])
    admin = await scenes.actor(hub.sessions, office.firm, office.admin)
    for index in range(30):
        data = PDF + str(index).encode()
        await receive_document(hub, admin, code, "Achats", f"f{index}.pdf", data, "api")
    clock = FakeClock()
    async with new_worker(hub, clock, batch_size=20, concurrency=4) as worker:
        first, second = await worker.run_once(), await worker.run_once()
    assert (first.sent, second.sent) == (20, 10)
    assert len({d.idempotency_key for d in partner_sandbox.documents.items}) == 30
    assert all(d.status == "sent" for d in await deliveries(hub.sessions))
