"""The delivery worker against the real partner sandbox and the real SMTP fake: what arrives,
what is refused and why, what is retried, and that nothing is sent twice."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from connectors.collection_email import message_id
from connectors.mail import SmtpConfig
from connectors.outcomes import Outcome, Sent
from connectors.parcel import Parcel
from connectors.registry import ConnectorEnv, default_registry
from connectors.worker import DeliveryWorker, WorkerConfig
from hub.documents import VersionReceipt, blob_store, receive_document
from hub.services import Hub
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
        clock.advance(1.01)  # rand 0.5 × base 2 s × 2^0
        assert (await worker.run_once()).retried == 1
        clock.advance(1.5)
        assert (await worker.run_once()).claimed == 0  # second backoff is 2 s
        clock.advance(0.51)
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


async def test_it_gives_up_after_the_last_attempt(
    hub: Hub, office: Office, partner_sandbox: PartnerSandbox
) -> None:
    scene = await one_document(hub, office, partner_sandbox)
    partner_sandbox.fail_share(1.0, 500)
    clock = FakeClock()
    async with new_worker(hub, clock, max_attempts=4) as worker:
        for _ in range(3):
            assert (await worker.run_once()).retried == 1
            clock.advance(3600)
        assert (await worker.run_once()).gave_up == 1
        clock.advance(3600)
        assert (await worker.run_once()).claimed == 0
    failed = await delivery(hub.sessions, scene.delivery.id)
    assert (failed.status, failed.failure_reason, failed.attempts) == ("failed", "gave_up", 4)
    assert partner_sandbox.requests == 4


def test_backoff_is_exponential_with_full_jitter_and_capped(hub: Hub) -> None:
    worker = DeliveryWorker(
        hub.sessions, blob_store(hub.settings), open_secret=str, rand=lambda: 1.0
    )
    assert [worker.backoff(n, None) for n in (1, 2, 3, 4)] == [2, 4, 8, 16]
    assert worker.backoff(30, None) == 3600
    assert worker.backoff(1, 90) == 90  # Retry-After wins over a shorter draw
    worker.rand = lambda: 0.0
    assert worker.backoff(5, None) == 0


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
