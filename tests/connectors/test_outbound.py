"""The delivery worker under the outbound-address policy (production mode), against partner
sandboxes served over https with certificates for a name (``partner.example``) that a resolver
of the test's own points where the test says: what is refused at connect time, that every
refusal looks the same, that redirects are not followed, and that a partner echoing the
credentials it received shows them to nobody."""

from __future__ import annotations

import asyncio
import csv
import io
import socket
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from sqlalchemy import select, update

from connectors.addresses import UNREACHABLE, AddressPolicy
from connectors.outcomes import MASK, SHOWN_LIMIT, Fault, Refused, Sent, redacted
from connectors.worker import DeliveryWorker, WorkerConfig
from hub.dashboards import CsvLabels, FailureFilters, failures, failures_csv
from hub.documents import VersionReceipt, blob_store, receive_document
from hub.history import document_history
from hub.services import Hub
from relais.app import build_worker
from relais.services import build_services
from storage.models import Delivery
from tests import scenes
from tests.connectors.arrange import PDF, FakeClock, Names, add_app, attempts, delivery
from tests.fakes.partner import SANDBOX_KEY_ID, SANDBOX_SECRET, PartnerSandbox
from tests.scenes import Office

NAME = "partner.example"
TlsSandbox = Callable[..., PartnerSandbox]


@pytest.fixture
def tls_sandbox(fake_ca: trustme.CA, trust_fake_ca: Path) -> Iterator[TlsSandbox]:
    """Partner sandboxes over https, each with a certificate for the names given (trusted)."""
    started: list[PartnerSandbox] = []

    def start(*names: str, **options: Any) -> PartnerSandbox:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        fake_ca.issue_cert(*(names or (NAME,))).configure_cert(context)
        sandbox = PartnerSandbox(ssl_context=context, **options).start()
        started.append(sandbox)
        return sandbox

    yield start
    for sandbox in started:
        sandbox.stop()


def port_of(sandbox: PartnerSandbox) -> int:
    return sandbox.server.port


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def policy_worker(hub: Hub, policy: AddressPolicy, clock: FakeClock) -> DeliveryWorker:
    return DeliveryWorker(
        hub.sessions,
        blob_store(hub.settings),
        open_secret=hub.vault.open,
        clock=clock,
        rand=lambda: 0.5,
        config=WorkerConfig(request_timeout=5.0),
        outbound=policy,
    )


async def one_document(hub: Hub, office: Office, api_url: str) -> tuple[VersionReceipt, Delivery]:
    """The firm's API application at ``api_url`` (stored as is: whatever the wizard checked),
    one document for it, and its delivery."""
    app = await add_app(hub, office.firm.id, "ocr-achats", api_url=api_url)
    await scenes.connection(hub.sessions, office.firm.id, app, office.dossier.id, ["Achats"])
    admin = await scenes.actor(hub.sessions, office.firm, office.admin)
    receipt = await receive_document(
        hub, admin, office.dossier.code, "Achats", "facture.pdf", PDF, "bot"
    )
    async with hub.sessions() as session:
        return receipt, (await session.scalars(select(Delivery))).one()


async def one_delivery(hub: Hub, office: Office, api_url: str) -> Delivery:
    return (await one_document(hub, office, api_url))[1]


# --------------------------------------------------------------------------- connect time


async def test_a_name_that_passed_at_save_time_but_now_resolves_to_loopback_is_refused(
    hub: Hub, office: Office, tls_sandbox: TlsSandbox
) -> None:
    sandbox = tls_sandbox()
    names = Names(partner_example=["93.184.216.34"])
    policy = AddressPolicy(resolve=names)
    api_url = f"https://{NAME}:{port_of(sandbox)}"
    await policy.check_url(api_url)  # what the wizard checked when the URL was saved
    queued = await one_delivery(hub, office, api_url)

    names.names[NAME] = ["127.0.0.1"]  # the name's owner changed its address since
    async with policy_worker(hub, policy, FakeClock()) as worker:
        assert (await worker.run_once()).retried == 1

    assert sandbox.requests == 0  # nothing reached the loopback address
    (attempt,) = await attempts(hub.sessions, queued.id)
    assert (attempt.outcome, attempt.detail) == ("fault", UNREACHABLE)


async def test_the_worker_connects_to_the_checked_address_keeping_the_names_tls_and_host(
    hub: Hub, office: Office, tls_sandbox: TlsSandbox
) -> None:
    # The certificate is for the name only: the handshake succeeds only if the SNI and the
    # check are the name's while the socket goes to the vetted address.
    sandbox = tls_sandbox(NAME)
    policy = AddressPolicy.allowing("127.0.0.1", resolve=Names(partner_example=["127.0.0.1"]))
    queued = await one_delivery(hub, office, f"https://{NAME}:{port_of(sandbox)}/")
    async with policy_worker(hub, policy, FakeClock()) as worker:
        assert (await worker.run_once()).sent == 1
    (received,) = sandbox.documents.items
    assert received.idempotency_key == queued.idempotency_key
    assert sandbox.last_host == f"{NAME}:{port_of(sandbox)}"
    assert (await delivery(hub.sessions, queued.id)).status == "sent"


def _refused_by_policy(sandbox: PartnerSandbox) -> tuple[str, AddressPolicy]:
    return f"https://127.0.0.1:{port_of(sandbox)}", AddressPolicy()


def _does_not_resolve(sandbox: PartnerSandbox) -> tuple[str, AddressPolicy]:
    return f"https://gone.example:{port_of(sandbox)}", AddressPolicy(resolve=Names())


def _connection_refused(sandbox: PartnerSandbox) -> tuple[str, AddressPolicy]:
    return f"https://127.0.0.1:{closed_port()}", AddressPolicy.allowing("127.0.0.1")


def _tls_refused(sandbox: PartnerSandbox) -> tuple[str, AddressPolicy]:
    # Allowed and listening, but its certificate is not for this name.
    names = Names(other_example=["127.0.0.1"])
    return f"https://other.example:{port_of(sandbox)}", AddressPolicy.allowing(
        "127.0.0.1", resolve=names
    )


def _lookup_times_out(sandbox: PartnerSandbox) -> tuple[str, AddressPolicy]:
    async def never(host: str, port: int) -> list[str]:
        await asyncio.Event().wait()
        return []

    return f"https://{NAME}:{port_of(sandbox)}", AddressPolicy(resolve=never, timeout=0.05)


def _plain_http(sandbox: PartnerSandbox) -> tuple[str, AddressPolicy]:
    return f"http://127.0.0.1:{port_of(sandbox)}", AddressPolicy.allowing("127.0.0.1")


def _not_a_url(sandbox: PartnerSandbox) -> tuple[str, AddressPolicy]:
    return "https://0177.0.0.1/", AddressPolicy()


@pytest.mark.parametrize(
    "case",
    [
        _refused_by_policy,
        _does_not_resolve,
        _connection_refused,
        _tls_refused,
        _lookup_times_out,
        _plain_http,
        _not_a_url,
    ],
)
async def test_every_unreachable_address_stores_the_same_text(
    hub: Hub,
    office: Office,
    tls_sandbox: TlsSandbox,
    case: Callable[[PartnerSandbox], tuple[str, AddressPolicy]],
) -> None:
    sandbox = tls_sandbox(NAME)
    api_url, policy = case(sandbox)
    queued = await one_delivery(hub, office, api_url)
    clock = FakeClock()
    async with policy_worker(hub, policy, clock) as worker:
        assert (await worker.run_once()).retried == 1
    assert sandbox.documents.items == []
    (attempt,) = await attempts(hub.sessions, queued.id)
    # No detail that tells the administrator what is listening where.
    assert (attempt.outcome, attempt.detail) == ("fault", UNREACHABLE)
    assert (await delivery(hub.sessions, queued.id)).failure_reason is None


async def test_a_partner_redirect_is_not_followed(
    hub: Hub, office: Office, tls_sandbox: TlsSandbox
) -> None:
    first = tls_sandbox(NAME)
    elsewhere = tls_sandbox(NAME)
    first.redirect_to(f"https://{NAME}:{port_of(elsewhere)}/documents")
    policy = AddressPolicy.allowing("127.0.0.1", resolve=Names(partner_example=["127.0.0.1"]))
    queued = await one_delivery(hub, office, f"https://{NAME}:{port_of(first)}")
    async with policy_worker(hub, policy, FakeClock()) as worker:
        assert (await worker.run_once()).refused == 1
    assert (first.requests, elsewhere.requests) == (1, 0)
    done = await delivery(hub.sessions, queued.id)
    assert done.status == "failed" and done.failure_reason == "rejected"
    (attempt,) = await attempts(hub.sessions, queued.id)
    assert "redirect" in attempt.detail and str(port_of(elsewhere)) not in attempt.detail


async def test_the_deployments_allow_list_reaches_the_worker(
    hub: Hub, office: Office, tls_sandbox: TlsSandbox, sessions: Any
) -> None:
    """``relais serve`` builds its worker from the settings: RELAIS_OUTBOUND_ALLOW lets a test
    lab's loopback partner in; without it the same partner is unreachable."""
    sandbox = tls_sandbox("127.0.0.1")
    await one_delivery(hub, office, f"https://127.0.0.1:{port_of(sandbox)}")
    production = hub.settings.model_copy(update={"demo": False})
    async with build_worker(build_services(production, sessions)) as worker:
        assert (await worker.run_once()).retried == 1
    assert sandbox.requests == 0

    async with sessions() as session, session.begin():
        await session.execute(update(Delivery).values(next_attempt_at=Delivery.created_at))
    lab = production.model_copy(update={"outbound_allow": "127.0.0.1"})
    async with build_worker(build_services(lab, sessions)) as worker:
        assert (await worker.run_once()).sent == 1
    assert len(sandbox.documents) == 1


# --------------------------------------------------------------------------- partners' texts


async def test_a_partner_that_echoes_the_credentials_shows_them_nowhere(
    hub: Hub, office: Office, partner_sandbox: PartnerSandbox
) -> None:
    partner_sandbox.dossiers = {"SOMETHING-ELSE"}
    partner_sandbox.echo_credentials()
    receipt, queued = await one_document(hub, office, partner_sandbox.url)
    async with DeliveryWorker(
        hub.sessions, blob_store(hub.settings), open_secret=hub.vault.open, clock=FakeClock()
    ) as worker:
        assert (await worker.run_once()).refused == 1
    assert partner_sandbox.refusals.items[0].code == "dossier_unknown"

    admin = await scenes.actor(hub.sessions, office.firm, office.admin)
    (attempt,) = await attempts(hub.sessions, queued.id)
    (row,) = (await failures(hub, admin, FailureFilters())).items
    history = await document_history(hub, admin, receipt.document_id)
    shown_history = [a.detail for v in history.versions for d in v.deliveries for a in d.attempts]
    labels = CsvLabels(header=["h"] * 10, reason=str)
    exported = b"".join([c async for c in failures_csv(hub, admin, FailureFilters(), labels)])
    rows = list(csv.reader(io.StringIO(exported[3:].decode("utf-8")), delimiter=";"))
    for shown in (attempt.detail, row.detail, *shown_history, rows[1][-1]):
        assert "dossier_unknown" in shown and MASK in shown
        assert SANDBOX_SECRET not in shown and SANDBOX_KEY_ID not in shown


def test_partner_texts_are_masked_in_every_encoding_and_bounded() -> None:
    secret = 's3cr"et/+='
    # As sent, as a query string carries it, as a JSON string carries it.
    echoed = " | ".join([secret, "s3cr%22et%2F%2B%3D", 's3cr\\"et/+='])
    (masked,) = {
        redacted(outcome, [secret, "KEY"]).detail
        for outcome in (Refused("rejected", echoed), Fault(echoed), Sent("", echoed))
    }
    assert masked == f"{MASK} | {MASK} | {MASK}"
    long = redacted(Refused("rejected", "x" * 5000), [secret])
    assert len(long.detail) == SHOWN_LIMIT
    assert redacted(Sent(f"REF-{secret}", ""), [secret]).reference == f"REF-{MASK}"
