"""The delivery worker: a durable outbox over the ``delivery`` table.

Every document version that must reach an application is a ``Delivery`` row, written in the
same transaction as the version (``hub/documents/intake.py``). The worker:

1. **claims** due rows in one statement — ``pending`` ones whose ``next_attempt_at`` has come,
   and ``sending`` ones whose lease has expired (their worker died mid-send) — setting them
   ``sending`` with a lease and ``attempts + 1``. On PostgreSQL the candidates are picked
   ``FOR UPDATE SKIP LOCKED`` so several workers, on several machines, share the table without
   waiting on each other; on SQLite, which has one writer at a time, the ``UPDATE … WHERE
   status …`` guard is enough.
2. **checks** the application's limits (size, accepted formats by detected content type) and
   refuses without calling the application when they are not met;
3. **sends** through the connector the registry names, with the delivery's idempotency key,
   at most ``concurrency`` sends at once;
4. **records** each attempt (``DeliveryAttempt``) and the outcome: sent (with the application's
   reference), failed with a reason (refusals, or ``gave_up`` once passing faults have gone on
   for the retry horizon), or pending again after a capped exponential backoff with jitter.

Results are written as they come, several per transaction (group commit), and each write is
fenced by ``(status = sending, attempts = the claimed number)``: a worker whose lease expired
and whose delivery was claimed again cannot overwrite the newer attempt. A crash between the
application's answer and that write means the delivery is sent again after the lease —
with the same idempotency key, so the application recognises it.

``run_once()`` processes one batch and returns what it did (tests and benchmarks drive it step
by step, with an injected clock); ``run(stop)`` loops until ``stop`` is set.

One module of some 600 lines, on purpose: claim, send and record share the lease and fence rules
above, and reading them in one place is what makes "exactly once" checkable by a reviewer.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self, cast

import httpx
from sqlalchemy import Table, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from connectors import outcomes
from connectors.addresses import AddressPolicy
from connectors.mail import Mailer, SmtpConfig
from connectors.outcomes import Fault, Outcome, Refused, Sent, outcome_name, redacted
from connectors.parcel import Parcel, Target
from connectors.partner_api import new_client
from connectors.registry import ConnectorEnv, ConnectorRegistry, Connectors, default_registry
from storage.blobs import BlobNotFound, Blobs, BlobStoreUnavailable
from storage.db import Sessions
from storage.models import (
    CatalogApp,
    Connection,
    Delivery,
    DeliveryAttempt,
    Document,
    DocumentVersion,
    Dossier,
    FirmApplication,
)

log = logging.getLogger(__name__)

_DELIVERY = cast(Table, Delivery.__table__)
_ATTEMPT = cast(Table, DeliveryAttempt.__table__)
_FENCE = (
    _DELIVERY.c.id == bindparam("b_id"),
    _DELIVERY.c.status == "sending",
    _DELIVERY.c.attempts == bindparam("b_attempts"),
)
# Core statements with bound parameters, compiled once and run as executemany per group.
_RECORD = (
    update(_DELIVERY)
    .where(*_FENCE)
    .values(
        status=bindparam("status"),
        failure_reason=bindparam("failure_reason"),
        app_reference=bindparam("app_reference"),
        sent_at=bindparam("sent_at"),
        next_attempt_at=bindparam("next_attempt_at"),
        lease_until=None,
        # A new outcome is news: a failure (again) is to be told to the dossier master afresh.
        notified_at=None,
    )
)
# Handed back unsent: the attempt that was never made is not counted.
_RELEASE = (
    update(_DELIVERY)
    .where(*_FENCE)
    .values(status="pending", attempts=_DELIVERY.c.attempts - 1, lease_until=None)
)

Clock = Callable[[], datetime]
SecretOpener = Callable[[bytes], str]


def utc_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class WorkerConfig:
    batch_size: int = 64
    concurrency: int = 16
    lease_seconds: float = 60.0
    # Passing faults are retried for this long, counted from the first attempt (since the
    # delivery was queued or last sent again by a person): a partner down for an hour or a
    # night loses nothing (RELAIS_RETRY_HORIZON_SECONDS).
    retry_horizon: float = 86400.0
    backoff_base: float = 2.0
    # The longest wait between two tries: a partner back up is noticed within this.
    backoff_cap: float = 900.0
    # A partner's Retry-After is honoured up to this.
    retry_after_cap: float = 3600.0
    poll_interval: float = 0.5
    request_timeout: float = 30.0


@dataclass
class BatchReport:
    """What one ``run_once`` did, by outcome."""

    claimed: int = 0
    sent: int = 0
    refused: int = 0
    retried: int = 0
    gave_up: int = 0
    # Claimed, but the lease ran too short to start the send: handed back untouched.
    released: int = 0
    # Written too late: another worker had claimed the delivery again meanwhile.
    superseded: int = 0

    def add(self, other: BatchReport) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class _Job:
    delivery_id: int
    attempts: int
    idempotency_key: str
    firm_id: int
    sha256: str
    size: int
    content_type: str
    file_name: str
    created_at: datetime
    dossier_code: str
    collection_email: str
    # False when the connection is gone: its application was deleted after the version came.
    connection_exists: bool
    connection_active: bool
    slug: str
    label: str
    method: str
    document_type: str | None
    max_size: int | None
    accepted_formats: list[Any]
    api_url: str
    api_key_id: str
    secret_encrypted: bytes | None
    specific_fields: dict[str, Any] = field(default_factory=dict)


class DeliveryWorker:
    def __init__(
        self,
        sessions: Sessions,
        blobs: Blobs,
        *,
        open_secret: SecretOpener,
        smtp: SmtpConfig | None = None,
        mailer: Mailer | None = None,
        collection_sender: str | None = None,
        registry: ConnectorRegistry | None = None,
        config: WorkerConfig | None = None,
        clock: Clock = utc_clock,
        rand: Callable[[], float] = random.random,
        http: httpx.AsyncClient | None = None,
        outbound: AddressPolicy | None = None,
    ) -> None:
        """``open_secret`` turns ``FirmApplication.secret_encrypted`` into the secret (the
        composition root passes ``hub.vault.open``); collection-email applications need a
        ``mailer`` (the composition root passes the one notifications use: one mail transport)
        or, for plain SMTP, an ``smtp`` configuration; ``http`` replaces the worker's own
        client (tests); ``outbound`` is the address policy its own client connects under
        (:func:`connectors.addresses.policy_for`; none in demo mode)."""
        self.sessions = sessions
        self.blobs = blobs
        self.config = config or WorkerConfig()
        self.clock = clock
        self.rand = rand
        self._open_secret = open_secret
        self._secrets: dict[bytes, str] = {}
        self._own_http = http is None
        self._http = http or new_client(
            self.config.concurrency,
            httpx.Timeout(
                self.config.request_timeout, connect=min(10.0, self.config.request_timeout)
            ),
            outbound=outbound,
        )
        self.connectors = Connectors(
            registry or default_registry(),
            ConnectorEnv(
                http=self._http,
                mailer=mailer or (Mailer(smtp) if smtp else None),
                collection_sender=collection_sender,
            ),
        )
        self._slots = asyncio.Semaphore(self.config.concurrency)
        bind = sessions.kw.get("bind")
        self._postgres = bind is not None and bind.dialect.name == "postgresql"
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ lifecycle

    async def aclose(self) -> None:
        if self._own_http:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    def start(self) -> asyncio.Task[None]:
        """Run in the background (``relais serve``); :meth:`stop` ends it and closes clients."""
        self._stop.clear()
        self._task = asyncio.create_task(self.run(self._stop), name="delivery-worker")
        return self._task

    async def stop(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109 - bounds the drain
        """Let the batch in hand finish (up to ``timeout``), then close. What is cut short stays
        ``sending`` and is taken back by the next worker when its lease expires."""
        self._stop.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout)
            except TimeoutError:
                log.warning("delivery worker did not finish its batch within %ss", timeout)
            self._task = None
        await self.aclose()

    def wake(self) -> None:
        """Look for work now rather than at the next poll (after an upload, for instance)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and send until ``stop`` is set.

        Two batches are kept in hand: while one is sending, the next is claimed and waits for
        free send slots, so the application never sits idle between batches. The lease check in
        :meth:`_process` hands back whatever would start too late.
        """
        log.info("delivery worker started (concurrency %d)", self.config.concurrency)
        batches: set[asyncio.Task[BatchReport]] = set()
        while not stop.is_set():
            try:
                found = await self._claim_jobs()
            except Exception:
                # The database may be restarting; keep the worker alive and try again.
                log.exception("claiming deliveries failed")
                found = None
            if found is not None:
                batch = asyncio.create_task(self._process(*found))
                batches.add(batch)
                batch.add_done_callback(batches.discard)
                if len(batches) >= 2:
                    await asyncio.wait(batches, return_when=asyncio.FIRST_COMPLETED)
                continue
            if batches:
                await asyncio.wait(batches, return_when=asyncio.FIRST_COMPLETED)
                continue
            await self._idle(stop)
        if batches:
            await asyncio.gather(*batches, return_exceptions=True)
        log.info("delivery worker stopped")

    async def _idle(self, stop: asyncio.Event) -> None:
        waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
        try:
            await asyncio.wait(
                waits, timeout=self.config.poll_interval, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiting in waits:
                waiting.cancel()
            self._wake.clear()

    # ------------------------------------------------------------------ one batch

    async def run_once(self) -> BatchReport:
        """Claim one batch, send it, record every outcome; returns what happened."""
        found = await self._claim_jobs()
        if found is None:
            return BatchReport()
        return await self._process(*found)

    async def _claim_jobs(self) -> tuple[datetime, list[_Job]] | None:
        now = self.clock()
        claimed = await self._claim(now)
        if not claimed:
            return None
        return now, await self._load(claimed)

    async def _process(self, claimed_at: datetime, jobs: list[_Job]) -> BatchReport:
        report = BatchReport(claimed=len(jobs))
        # Past this instant a send could outlive the lease and race a worker that took it back.
        start_by = claimed_at + timedelta(
            seconds=max(0.0, self.config.lease_seconds - self.config.request_timeout)
        )
        results: asyncio.Queue[tuple[_Job, Outcome | None] | None] = asyncio.Queue()
        writer = asyncio.create_task(self._write_results(results, report))

        async def one(job: _Job) -> None:
            async with self._slots:
                if self.clock() > start_by:
                    results.put_nowait((job, None))
                    return
                outcome = await self._attempt(job)
            results.put_nowait((job, outcome))

        try:
            await asyncio.gather(*(one(job) for job in jobs))
        finally:
            results.put_nowait(None)
            await writer
        return report

    def _due(self, now: datetime) -> Any:
        return or_(
            and_(Delivery.status == "pending", Delivery.next_attempt_at <= now),
            and_(Delivery.status == "sending", Delivery.lease_until < now),
        )

    async def _claim(self, now: datetime) -> dict[int, int]:
        """Returns ``{delivery id: attempt number}`` for the rows this worker now holds."""
        values = {
            "status": "sending",
            "lease_until": now + timedelta(seconds=self.config.lease_seconds),
            "attempts": _DELIVERY.c.attempts + 1,
        }
        candidates = (
            select(Delivery.id)
            .where(self._due(now))
            .order_by(Delivery.next_attempt_at)
            .limit(self.config.batch_size)
        )
        if self._postgres:
            picked = candidates.with_for_update(skip_locked=True).cte("picked")
            statement = (
                update(_DELIVERY)
                .where(_DELIVERY.c.id == picked.c.id)
                .values(values)
                .returning(_DELIVERY.c.id, _DELIVERY.c.attempts)
            )
        else:
            statement = (
                update(_DELIVERY)
                .where(_DELIVERY.c.id.in_(candidates.scalar_subquery()), self._due(now))
                .values(values)
                .returning(_DELIVERY.c.id, _DELIVERY.c.attempts)
            )
        async with self.sessions() as session, session.begin():
            rows = await session.execute(statement)
            return {row.id: row.attempts for row in rows}

    async def _load(self, claimed: dict[int, int]) -> list[_Job]:
        statement = (
            select(
                Delivery.id,
                Delivery.idempotency_key,
                Delivery.firm_id,
                Delivery.created_at,
                DocumentVersion.sha256,
                DocumentVersion.size,
                DocumentVersion.content_type,
                Document.name,
                Dossier.code,
                Connection.id.label("connection_ref"),
                Delivery.application_label,
                Connection.dossier_code_at_app,
                Connection.collection_email,
                Connection.active,
                FirmApplication.api_url,
                FirmApplication.api_key_id,
                FirmApplication.secret_encrypted,
                FirmApplication.specific_fields,
                CatalogApp.slug,
                CatalogApp.label,
                CatalogApp.connection,
                CatalogApp.document_type,
                CatalogApp.max_size,
                CatalogApp.accepted_formats,
            )
            .join(DocumentVersion, DocumentVersion.id == Delivery.document_version_id)
            .join(Document, Document.id == DocumentVersion.document_id)
            .join(Dossier, Dossier.id == Document.dossier_id)
            # Outer joins: a delivery whose application was deleted is still loaded, and
            # refused, rather than left "sending" and claimed again after every lease.
            .outerjoin(Connection, Connection.id == Delivery.connection_id)
            .outerjoin(FirmApplication, FirmApplication.id == Connection.firm_application_id)
            .outerjoin(CatalogApp, CatalogApp.id == FirmApplication.catalog_app_id)
            .where(Delivery.id.in_(list(claimed)))
        )
        async with self.sessions() as session:
            rows = (await session.execute(statement)).all()
        return [
            _Job(
                delivery_id=row.id,
                attempts=claimed[row.id],
                idempotency_key=row.idempotency_key,
                firm_id=row.firm_id,
                sha256=row.sha256,
                size=row.size,
                content_type=row.content_type,
                file_name=row.name,
                created_at=_aware(row.created_at),
                # The wizard asks for the dossier's code at the application; the firm's own
                # code is what most applications were set up with when none was entered.
                dossier_code=row.dossier_code_at_app or row.code,
                collection_email=row.collection_email or "",
                connection_exists=row.connection_ref is not None,
                connection_active=bool(row.active),
                slug=row.slug or "",
                label=row.label or row.application_label,
                method=row.connection or "",
                document_type=row.document_type,
                max_size=row.max_size,
                accepted_formats=list(row.accepted_formats or []),
                api_url=row.api_url or "",
                api_key_id=row.api_key_id or "",
                secret_encrypted=row.secret_encrypted,
                specific_fields=dict(row.specific_fields or {}),
            )
            for row in rows
        ]

    # ------------------------------------------------------------------ one send

    def precheck(self, job: _Job) -> Refused | None:
        """The refusals Relais can tell without asking the application."""
        if not job.connection_exists:
            return Refused(
                outcomes.APPLICATION_DELETED,
                f"{job.label} was deleted from the firm's applications",
            )
        if not job.connection_active:
            return Refused(outcomes.DISCONNECTED, "the connection was switched off")
        if job.max_size is not None and job.size > job.max_size:
            return Refused(
                outcomes.TOO_LARGE, f"{job.size} bytes; {job.label} accepts {job.max_size} at most"
            )
        if job.accepted_formats and job.content_type not in job.accepted_formats:
            return Refused(
                outcomes.FORMAT_REFUSED,
                f"{job.content_type}; {job.label} accepts {', '.join(job.accepted_formats)}",
            )
        return None

    async def _attempt(self, job: _Job) -> Outcome:
        refused = self.precheck(job)
        if refused is not None:
            return refused
        try:
            connector = self.connectors.get(job.method, job.slug)
        except LookupError as error:
            return Refused(outcomes.NOT_CONFIGURED, str(error))
        if connector is None:
            return Refused(outcomes.NOT_CONFIGURED, f"no connector for {job.method}/{job.slug}")
        try:
            secret = self._secret(job.secret_encrypted)
        except Exception as error:
            return Refused(outcomes.NOT_CONFIGURED, f"the stored secret cannot be used: {error}")
        try:
            # Bounded by the size the database recorded; the local folder reads small files
            # on the loop (a thread hop costs more), larger ones and the object store off it.
            data = await self.blobs.fetch(job.sha256, job.size)
        except BlobNotFound:
            return Fault(f"the stored file {job.sha256} is missing")
        except BlobStoreUnavailable as error:
            return Fault(f"the blob store cannot be read: {error}")
        parcel = Parcel(
            delivery_id=job.delivery_id,
            idempotency_key=job.idempotency_key,
            firm_id=job.firm_id,
            dossier_code=job.dossier_code,
            collection_email=job.collection_email,
            file_name=job.file_name,
            content_type=job.content_type,
            size=job.size,
            sha256=job.sha256,
            data=data,
            target=Target(
                slug=job.slug,
                label=job.label,
                connection=job.method,
                api_url=job.api_url.strip(),
                api_key_id=job.api_key_id,
                secret=secret,
                document_type=job.document_type,
                specific_fields=job.specific_fields,
            ),
        )
        try:
            outcome = await connector.send(parcel)
        except Exception as error:
            log.exception("connector %s failed on delivery %d", job.slug, job.delivery_id)
            outcome = Fault(f"connector error: {type(error).__name__}: {error}")
        # What the application answered is shown to people: never with the credentials in it.
        return redacted(outcome, (secret, job.api_key_id))

    def _secret(self, sealed: bytes | None) -> str:
        if not sealed:
            return ""
        if sealed not in self._secrets:
            self._secrets[sealed] = self._open_secret(sealed)
        return self._secrets[sealed]

    def backoff(self, attempts: int, retry_after: float | None) -> float:
        """Equal jitter: between half the exponential bound and the bound, so retries of many
        deliveries that failed together spread out instead of returning as one wave, yet never
        come back at once (full jitter's draws near 0 s would hammer a partner that is down)."""
        exponent = min(max(0, attempts - 1), 64)
        bound = min(self.config.backoff_cap, self.config.backoff_base * 2**exponent)
        delay = bound / 2 + self.rand() * bound / 2
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.config.retry_after_cap))
        return delay

    # ------------------------------------------------------------------ results

    async def _write_results(
        self, results: asyncio.Queue[tuple[_Job, Outcome | None] | None], report: BatchReport
    ) -> None:
        done = False
        while not done:
            item = await results.get()
            if item is None:
                break
            batch = [item]
            while not results.empty():
                more = results.get_nowait()
                if more is None:
                    done = True
                    break
                batch.append(more)
            try:
                async with self.sessions() as session, session.begin():
                    await self.record(session, batch, report)
            except Exception:
                # Left "sending": taken back after the lease, and resent with the same key.
                log.exception("could not record %d delivery outcome(s)", len(batch))

    async def record(
        self,
        session: AsyncSession,
        batch: list[tuple[_Job, Outcome | None]],
        report: BatchReport,
    ) -> None:
        """Write a group of outcomes in the caller's transaction: one statement per kind of
        change, each fenced by ``(status = sending, attempts = the claimed number)``."""
        now = self.clock()
        ids = [job.delivery_id for job, _ in batch]
        current = select(_DELIVERY.c.id, _DELIVERY.c.attempts).where(
            _DELIVERY.c.id.in_(ids), _DELIVERY.c.status == "sending"
        )
        if self._postgres:
            current = current.with_for_update()
        held = {row.id: row.attempts for row in await session.execute(current)}
        changes: list[dict[str, Any]] = []
        releases: list[dict[str, Any]] = []
        history: list[dict[str, Any]] = []
        starts = await self._round_starts(
            session,
            [
                job
                for job, outcome in batch
                if isinstance(outcome, Fault) and held.get(job.delivery_id) == job.attempts
            ],
        )
        for job, outcome in batch:
            ours = held.get(job.delivery_id) == job.attempts
            if outcome is None:
                if ours:
                    releases.append({"b_id": job.delivery_id, "b_attempts": job.attempts})
                    report.released += 1
                continue
            # The attempt happened whatever the fence says: it belongs in the history.
            history.append(
                {
                    "firm_id": job.firm_id,
                    "delivery_id": job.delivery_id,
                    "at": now,
                    "outcome": outcome_name(outcome),
                    "detail": _describe(outcome),
                }
            )
            if not ours:
                report.superseded += 1
                continue
            start = starts.get(job.delivery_id, now)
            changes.append(self._change(job, outcome, now, start, report))
        if changes:
            await session.execute(_RECORD, changes)
        if releases:
            await session.execute(_RELEASE, releases)
        if history:
            await session.execute(insert(_ATTEMPT), history)

    async def _round_starts(self, session: AsyncSession, faulty: list[_Job]) -> dict[int, datetime]:
        """When each delivery's current round of tries began: its first attempt since it was
        queued, or since a person sent it again (which sets ``attempts`` back to 0). That is the
        attempt row ``attempts - 1`` places before this one (the attempt being recorded has no
        row yet); the row of an attempt whose worker died unrecorded is missing, which can only
        make the round look older, never younger. Deliveries on their first try are absent:
        their round starts now."""
        wanted = {job.delivery_id: job.attempts - 1 for job in faulty if job.attempts > 1}
        if not wanted:
            return {}
        ranked = (
            select(
                _ATTEMPT.c.delivery_id,
                _ATTEMPT.c.at,
                func.row_number()
                .over(
                    partition_by=_ATTEMPT.c.delivery_id,
                    order_by=(_ATTEMPT.c.at.desc(), _ATTEMPT.c.id.desc()),
                )
                .label("back"),
            )
            .where(_ATTEMPT.c.delivery_id.in_(list(wanted)))
            .subquery()
        )
        rows = await session.execute(
            select(ranked.c.delivery_id, ranked.c.at).where(
                or_(
                    *(
                        and_(ranked.c.delivery_id == delivery_id, ranked.c.back == back)
                        for delivery_id, back in wanted.items()
                    )
                )
            )
        )
        found = {row.delivery_id: _aware(row.at) for row in rows}
        by_id = {job.delivery_id: job for job in faulty}
        # No row that far back (attempts cut short by a dead worker): the delivery's queuing.
        return {
            delivery_id: found.get(delivery_id, by_id[delivery_id].created_at)
            for delivery_id in wanted
        }

    def _change(
        self, job: _Job, outcome: Outcome, now: datetime, start: datetime, report: BatchReport
    ) -> dict[str, Any]:
        """The delivery's new state after one attempt: sent, failed for good, or pending again
        after a backoff. ``start`` is when its round of tries began (:meth:`_round_starts`)."""
        change: dict[str, Any] = {
            "b_id": job.delivery_id,
            "b_attempts": job.attempts,
            "status": "pending",
            "failure_reason": None,
            "app_reference": "",
            "sent_at": None,
            "next_attempt_at": now,
        }
        if isinstance(outcome, Sent):
            change |= {"status": "sent", "app_reference": outcome.reference[:200], "sent_at": now}
            report.sent += 1
        elif isinstance(outcome, Refused):
            change |= {"status": "failed", "failure_reason": outcome.reason}
            report.refused += 1
        else:
            retry_at = self.next_try(job.attempts, outcome.retry_after, now, start)
            if retry_at is None:
                change |= {"status": "failed", "failure_reason": outcomes.GAVE_UP}
                report.gave_up += 1
            else:
                change["next_attempt_at"] = retry_at
                report.retried += 1
        return change

    def next_try(
        self, attempts: int, retry_after: float | None, now: datetime, start: datetime
    ) -> datetime | None:
        """When to try again after a passing fault, or None to give up: once the horizon from
        ``start`` has passed, or when the partner's Retry-After reaches beyond it. A backoff
        that would overshoot the horizon is cut to end on it, so the last try is made at the
        horizon rather than up to one long wait before it."""
        deadline = start + timedelta(seconds=self.config.retry_horizon)
        if now >= deadline:
            return None
        if retry_after is not None:
            wait = min(retry_after, self.config.retry_after_cap)
            if now + timedelta(seconds=wait) > deadline:
                return None
        return min(now + timedelta(seconds=self.backoff(attempts, retry_after)), deadline)


def _aware(moment: datetime) -> datetime:
    """SQLite gives naive datetimes back: they are UTC, as everything stored is."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _describe(outcome: Outcome) -> str:
    """The attempt's line in the history: what the application answered."""
    if isinstance(outcome, Refused):
        return f"{outcome.reason}: {outcome.detail}"[:4000]
    if isinstance(outcome, Sent):
        return f"reference {outcome.reference}: {outcome.detail}"[:4000]
    return outcome.detail[:4000]
