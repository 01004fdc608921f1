"""Failed-send notices (hub/notices/): grouped per dossier master, nothing told twice,
nothing marked before it is sent, "off" and masterless failures settled quietly, the daily digest
at its hour only, too-old failures given up, and each person's own choice. Both databases."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from connectors.worker import DeliveryWorker, WorkerConfig
from hub.documents import blob_store, receive_document
from hub.errors import InvalidInput, PermissionDenied
from hub.history import retry
from hub.notices import (
    QUIET,
    FailureNotice,
    digest_moment,
    failure_notices_of,
    mark_notified,
    pending_notices,
    set_failure_notices,
)
from hub.services import Hub
from relais.demo import DemoInfo
from storage.models import AuditEvent, Connection, Delivery, Dossier, StaffUser
from tests.connectors.arrange import FakeClock, actor, add_app, connect, pdf
from tests.fakes.partner import PartnerSandbox
from tests.hub.test_history import Scene, _codes, arrange_scene

PARIS = ZoneInfo("Europe/Paris")


@dataclass
class Burst:
    scene: Scene
    ids: list[int]  # the burst's failed deliveries, oldest first


async def fail_burst(
    hub: Hub,
    scene: Scene,
    code: str,
    count: int,
    reason: str,
    *,
    prefix: str = "releve",
    at: datetime | None = None,
) -> list[int]:
    """``count`` documents arrive in dossier ``code`` and their sends to the OCR fail for good,
    ``at`` (a minute ago unless told: a burst over, its notice due)."""
    failed_at = at or datetime.now(UTC) - timedelta(minutes=1)
    versions = []
    for i in range(count):
        name = f"{prefix}-{code}-{i:03d}.pdf"
        receipt = await receive_document(
            hub, scene.admin, code, "Achats/2025", name, pdf(name), "panel"
        )
        versions.append(receipt.version_id)
    async with hub.sessions() as session, session.begin():
        ids = list(
            await session.scalars(
                select(Delivery.id)
                .where(
                    Delivery.document_version_id.in_(versions),
                    Delivery.connection_id.in_(
                        select(Connection.id).where(Connection.firm_application_id == scene.app_id)
                    ),
                )
                .order_by(Delivery.id)
            )
        )
        await session.execute(
            update(Delivery)
            .where(Delivery.id.in_(ids))
            .values(status="failed", failure_reason=reason, next_attempt_at=failed_at)
        )
    return ids


def a_round() -> datetime:
    """A round once the burst is over (``QUIET`` after its last failure)."""
    return datetime.now(UTC) + 2 * QUIET


def by_master(notices: list[FailureNotice]) -> dict[str, FailureNotice]:
    return {n.master_name: n for n in notices}


async def untold(hub: Hub) -> set[int]:
    async with hub.sessions() as session:
        return set(
            await session.scalars(
                select(Delivery.id).where(
                    Delivery.status == "failed", Delivery.notified_at.is_(None)
                )
            )
        )


@pytest.fixture
async def burst(hub: Hub, demo: DemoInfo) -> Burst:
    scene = await arrange_scene(hub, demo)
    ids = await fail_burst(hub, scene, scene.sophie_code, 30, "too_large")
    return Burst(scene, ids)


async def test_a_burst_makes_one_notice_per_master_and_is_told_once(hub: Hub, burst: Burst) -> None:
    now = a_round()
    due = await pending_notices(hub, now)
    notices = by_master(due.notices)
    assert sorted(notices) == ["Claire Durand", "James Walker", "Sophie Martin"]
    sophie = notices["Sophie Martin"]
    assert sophie.total == 31 and sophie.locale == "fr" and not sophie.digest
    assert len(sophie.items) == 10 and sophie.more == 21
    # The latest first, with what the card shows, and Retry for exactly those shown.
    latest = sophie.items[0]
    assert latest.delivery_id == burst.ids[-1]
    assert latest.document == f"releve-{burst.scene.sophie_code}-029.pdf"
    assert latest.dossier_code == burst.scene.sophie_code and latest.reason == "too_large"
    assert latest.application == "OCR Factures — Achats"
    assert sophie.retry_ids == [item.delivery_id for item in sophie.items]
    assert set(burst.ids) <= set(sophie.delivery_ids)
    assert notices["James Walker"].total == 1 and notices["James Walker"].locale == "en"
    assert notices["James Walker"].items[0].reason == "too_large"

    # Nothing is marked before the notice is sent: the same notices come again.
    again = by_master((await pending_notices(hub, now)).notices)
    assert {k: v.total for k, v in again.items()} == {k: v.total for k, v in notices.items()}

    assert await mark_notified(hub, sophie, now) == 31
    after = by_master((await pending_notices(hub, now)).notices)
    assert sorted(after) == ["Claire Durand", "James Walker"]
    async with hub.sessions() as session:
        event = await session.scalar(
            select(AuditEvent).where(AuditEvent.action == "failures.notified")
        )
    assert event is not None and event.actor == "system"
    assert event.target_id == str(sophie.master_id) and event.details["count"] == 31


async def test_a_burst_still_under_way_waits_and_makes_one_notice(hub: Hub, demo: DemoInfo) -> None:
    """The worker's failures spread over two rounds: the first round holds them, the one after
    the burst calmed tells all of them at once; a steady trickle is told after MAX_HOLD anyway."""
    scene = await arrange_scene(hub, demo)
    for notice in (await pending_notices(hub, a_round())).notices:  # the scene's own failures
        await mark_notified(hub, notice, a_round())
    start = datetime.now(UTC) + timedelta(hours=1)
    first = await fail_burst(hub, scene, scene.sophie_code, 5, "too_large", at=start)
    held = by_master((await pending_notices(hub, start + timedelta(seconds=10))).notices)
    assert "Sophie Martin" not in held
    second = await fail_burst(
        hub,
        scene,
        scene.sophie_code,
        5,
        "too_large",
        prefix="lot2",
        at=start + timedelta(seconds=20),
    )
    assert "Sophie Martin" not in by_master(
        (await pending_notices(hub, start + timedelta(seconds=40))).notices
    )
    told = by_master((await pending_notices(hub, start + timedelta(seconds=50))).notices)
    assert set(told["Sophie Martin"].delivery_ids) == set(first + second)
    await mark_notified(hub, told["Sophie Martin"], start + timedelta(seconds=50))

    trickle = start + timedelta(hours=1)
    for minute in range(6):
        at = trickle + timedelta(minutes=minute)
        await fail_burst(hub, scene, scene.sophie_code, 1, "too_large", prefix=f"t{minute}", at=at)
    still_failing = trickle + timedelta(minutes=5, seconds=10)
    assert "Sophie Martin" in by_master((await pending_notices(hub, still_failing)).notices)


async def test_off_and_masterless_failures_are_settled_without_a_notice(
    hub: Hub, burst: Burst
) -> None:
    scene = burst.scene
    assert await set_failure_notices(hub, scene.sophie, "off") == "off"
    async with hub.sessions() as session, session.begin():
        dossier = await session.scalar(select(Dossier).where(Dossier.code == scene.james_code))
        assert dossier is not None
        dossier.master_id = None
    due = await pending_notices(hub, a_round())
    assert [n.master_name for n in due.notices] == ["Claire Durand"]
    assert due.settled == 32  # Sophie's 31, and the masterless dossier's one
    assert await untold(hub) == set(due.notices[0].delivery_ids)
    async with hub.sessions() as session:
        event = await session.scalar(
            select(AuditEvent).where(AuditEvent.action == "staff.failure_notices")
        )
    assert event is not None and event.actor == scene.sophie.ref
    assert event.details == {"before": "immediate", "after": "off"}


async def test_the_daily_digest_comes_at_its_hour_once_a_day(hub: Hub, burst: Burst) -> None:
    scene = burst.scene
    await set_failure_notices(hub, scene.sophie, "daily")
    assert await failure_notices_of(hub, scene.sophie) == "daily"
    tomorrow = (datetime.now(PARIS) + timedelta(days=1)).date()

    def paris(days: int, hour: int, minute: int = 0) -> datetime:
        """Tomorrow (plus ``days``) at this time of day in Paris."""
        day = tomorrow + timedelta(days=days)
        return datetime(day.year, day.month, day.day, hour, minute, tzinfo=PARIS).astimezone(UTC)

    early = by_master((await pending_notices(hub, paris(0, 7, 59))).notices)
    assert "Sophie Martin" not in early and "James Walker" in early  # James: immediate
    at_eight = by_master((await pending_notices(hub, paris(0, 8))).notices)
    digest = at_eight["Sophie Martin"]
    assert digest.digest and digest.total == 31
    await mark_notified(hub, digest, paris(0, 8))
    # Later that day, a new failure waits for the next morning's digest.
    await fail_burst(hub, scene, scene.sophie_code, 1, "format_refused", prefix="avoir")
    for moment in (paris(0, 8, 1), paris(0, 23, 59), paris(1, 7, 59)):
        assert "Sophie Martin" not in by_master((await pending_notices(hub, moment)).notices)
    next_day = by_master((await pending_notices(hub, paris(1, 8, 30))).notices)
    assert next_day["Sophie Martin"].total == 1
    assert next_day["Sophie Martin"].items[0].reason == "format_refused"


def test_the_digest_hour_is_read_in_the_firms_time_zone(hub: Hub) -> None:
    winter = digest_moment(hub, datetime(2026, 1, 15, 12, tzinfo=UTC))
    summer = digest_moment(hub, datetime(2026, 7, 15, 12, tzinfo=UTC))
    assert winter == datetime(2026, 1, 15, 7, tzinfo=UTC)  # 08:00 CET
    assert summer == datetime(2026, 7, 15, 6, tzinfo=UTC)  # 08:00 CEST


async def test_failures_untold_for_a_week_are_given_up_and_logged(
    hub: Hub, burst: Burst, caplog: pytest.LogCaptureFixture
) -> None:
    later = datetime.now(UTC) + timedelta(days=8)
    with caplog.at_level(logging.WARNING, logger="hub.notices.dispatch"):
        due = await pending_notices(hub, later)
    assert due.notices == [] and due.settled == 33
    assert "33 failed send(s) still untold after 7 days" in caplog.text
    assert await untold(hub) == set()


async def test_an_inactive_master_is_not_told(hub: Hub, burst: Burst) -> None:
    async with hub.sessions() as session, session.begin():
        await session.execute(
            update(StaffUser).where(StaffUser.id == burst.scene.sophie.id).values(active=False)
        )
    due = await pending_notices(hub, a_round())
    assert "Sophie Martin" not in by_master(due.notices) and due.settled == 31


async def test_each_person_sets_only_their_own_choice(hub: Hub, burst: Burst) -> None:
    scene = burst.scene
    with pytest.raises(InvalidInput) as bad:
        await set_failure_notices(hub, scene.sophie, "hourly")
    assert bad.value.key == "notices.bad_choice"
    with pytest.raises(PermissionDenied):
        await set_failure_notices(hub, scene.contact, "off")
    await set_failure_notices(hub, scene.james, "off")
    assert await failure_notices_of(hub, scene.sophie) == "immediate"
    assert await failure_notices_of(hub, scene.james) == "off"
    # Choosing the same again changes nothing and records nothing.
    await set_failure_notices(hub, scene.james, "off")
    async with hub.sessions() as session:
        events = list(
            await session.scalars(
                select(AuditEvent).where(AuditEvent.action == "staff.failure_notices")
            )
        )
    assert len(events) == 1


async def test_a_failure_retried_that_fails_again_is_told_again(
    hub: Hub, demo: DemoInfo, partner_sandbox: PartnerSandbox
) -> None:
    """Through the real worker: the dossier is inactive at the application, the master is told,
    retries, and the second refusal is news again (the worker clears ``notified_at``)."""
    admin = await actor(hub, demo)
    sophie_code, _, _ = await _codes(hub, demo)
    app = await add_app(hub, demo.firm_id, "ocr-achats", api_url=partner_sandbox.url)
    await connect(hub.sessions, demo.firm_id, app, sophie_code, ["Achats"], code_at_app="OCR-1")
    partner_sandbox.inactive.add("OCR-1")
    await receive_document(hub, admin, sophie_code, "Achats", "facture-0600.pdf", pdf("6"), "panel")
    worker = DeliveryWorker(
        hub.sessions,
        blob_store(hub.settings),
        open_secret=hub.vault.open,
        clock=FakeClock(),
        rand=lambda: 0.5,
        config=WorkerConfig(),
    )
    async with worker:
        assert (await worker.run_once()).refused == 1
        (notice,) = (await pending_notices(hub, a_round())).notices
        assert notice.master_name == "Sophie Martin"
        assert notice.items[0].reason == "dossier_inactive"
        await mark_notified(hub, notice, datetime.now(UTC))
        assert (await pending_notices(hub, a_round())).notices == []

        sophie = await actor(hub, demo, "collaborator")
        assert await retry(hub, sophie, list(notice.delivery_ids)) == 1
        assert (await worker.run_once()).refused == 1
    (again,) = (await pending_notices(hub, a_round())).notices
    assert again.delivery_ids == notice.delivery_ids
