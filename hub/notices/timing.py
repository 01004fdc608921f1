"""When a notice goes: a daily digest at its hour in the firm's time zone, once a day; an immediate
notice once its burst of failures has calmed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hub.notices.notice import FailureNotice
from hub.services import Hub

# A burst still under way is not told yet: an immediate notice waits until no failure has come for
# QUIET, so the worker's failures spread over two rounds make one message, not two; but never
# longer than MAX_HOLD after the first, so a steady trickle is still told.
QUIET = timedelta(seconds=30)
MAX_HOLD = timedelta(minutes=5)


def digest_moment(hub: Hub, now: datetime) -> datetime:
    """Today's digest time (``notice_digest_hour`` in ``notice_timezone``), in UTC."""
    zone = ZoneInfo(hub.settings.notice_timezone)
    local = now.astimezone(zone)
    moment = local.replace(hour=hub.settings.notice_digest_hour, minute=0, second=0, microsecond=0)
    return moment.astimezone(UTC)


def digest_due(hub: Hub, now: datetime, last_digest_at: datetime | None) -> bool:
    """Once a day, from the digest hour on: nothing before it, and nothing twice after it."""
    moment = digest_moment(hub, now)
    return now >= moment and (last_digest_at is None or last_digest_at < moment)


def burst_over(notice: FailureNotice, now: datetime) -> bool:
    """A digest goes at its hour; an immediate notice once its burst has calmed (see QUIET)."""
    if notice.digest or notice.first_failed_at is None or notice.last_failed_at is None:
        return True
    return now - notice.last_failed_at >= QUIET or now - notice.first_failed_at >= MAX_HOLD
