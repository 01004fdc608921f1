"""The failed-send notice dispatcher: every ``RELAIS_NOTICE_INTERVAL_SECONDS`` the ``relais
serve`` process tells dossier masters in Teams what failed for good (``hub.notices``).

The worker, perhaps in another process, only records failures; this round reads what is due, sends
one card per master through the :class:`~bot.proactive.ProactiveSender` (rate limits, backoff on
429) to the conversation the master last used with the bot, and marks the failures told only
once the card went out. A master who never talked to the bot has no conversation to continue:
their failures wait for one (until ``hub.notices.MAX_AGE``). The clock and the pause
between rounds are injected, so tests call :meth:`NoticeDispatcher.run_once` with the time they
want and never wait.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.cards.notices import notice_card
from bot.proactive import ProactiveSender, Unreachable
from bot.turn import card_activity
from hub.conversations import reference_for
from hub.i18n import Translator
from hub.notices import mark_notified, notice_round, pending_notices
from hub.services import Hub

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class RoundReport:
    sent: int = 0  # cards that reached their master
    told: int = 0  # failures those cards covered
    waiting: int = 0  # masters with no conversation with the bot yet
    unreachable: int = 0  # cards Teams did not take: tried again next round
    settled: int = 0  # failures marked without a card (nobody to tell, too old)
    skipped: bool = False  # another process ran this round


class NoticeDispatcher:
    def __init__(
        self,
        hub: Hub,
        sender: ProactiveSender,
        dashboard_url: str,
        *,
        interval: float,
        clock: Clock = utc_now,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.hub = hub
        self.sender = sender
        self.dashboard_url = dashboard_url
        self.interval = interval
        self.clock = clock
        self.sleep = sleep

    async def run_once(self, now: datetime | None = None) -> RoundReport:
        now = now or self.clock()
        report = RoundReport()
        async with notice_round(self.hub) as ours:
            if not ours:
                report.skipped = True
                return report
            due = await pending_notices(self.hub, now)
            report.settled = due.settled
            for notice in due.notices:
                reference = await reference_for(self.hub.sessions, notice.firm_id, notice.person)
                if reference is None:
                    report.waiting += 1
                    continue
                t = Translator("bot", notice.locale)
                activity = card_activity(notice_card(t, notice, self.dashboard_url))
                try:
                    await self.sender.send(reference, activity)
                except Unreachable as error:
                    # Nothing marked: the same failures make next round's card.
                    log.warning(
                        "failure notice to %s (firm %d) not delivered: %s",
                        notice.person,
                        notice.firm_id,
                        error,
                    )
                    report.unreachable += 1
                    continue
                report.told += await mark_notified(self.hub, notice, now)
                report.sent += 1
        if report.sent or report.unreachable or report.settled:
            log.info("failure notices: %s", report)
        return report

    async def run_forever(self) -> None:
        """Rounds until cancelled; a round that breaks is logged and the next one still runs."""
        while True:
            await self.sleep(self.interval)
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("failure notice round failed")
