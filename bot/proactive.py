"""Messages the bot starts itself (proactive): offers to contacts, answers told to accountants.

Teams throttles bots per conversation (at most 7 messages a second, 8 in 2 seconds, 60 in 30
seconds, 1800 an hour in one conversation) and per app and tenant (50 requests a second), and
answers ``429 Too Many Requests`` beyond; the values may change, so a bot must also back off on
429 (and retry 412, 502, 504). :class:`RateLimiter` keeps each conversation under the first three
limits and the whole bot under the global one with sliding windows; :class:`ProactiveSender` retries
throttled and passing failures with exponential backoff, honouring ``Retry-After``. The clock and
the sleep are injected, so tests never wait.

A stored conversation reference (``hub.conversations``) is continued with
``CloudAdapter.continue_conversation`` and the bot's app id; without one, the personal chat is
created (``POST /v3/conversations`` with the user's Entra object id and the tenant) once the bot
is installed for the user (``hub``'s Graph call, made by the caller).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import (
    Activity,
    ChannelAccount,
    ConversationAccount,
    ConversationParameters,
    ConversationReference,
)

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]

# Retried answers of the Bot Connector (Teams' guidance), and how often.
RETRIED = frozenset({412, 429, 500, 502, 503, 504})
MAX_ATTEMPTS = 4
BACKOFF_BASE = 1.0
BACKOFF_CAP = 16.0
# A Retry-After longer than this is not waited for within a person's turn.
MAX_RETRY_AFTER = 30.0


class Unreachable(Exception):
    """The message could not be delivered (``status`` 0: no answer at all)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status}: {reason}")
        self.status = status
        self.reason = reason


# Teams' documented limits: (window in seconds, messages) per conversation, and for the app.
PER_CONVERSATION: tuple[tuple[float, int], ...] = ((1.0, 7), (2.0, 8), (30.0, 60))
GLOBAL: tuple[tuple[float, int], ...] = ((1.0, 50),)


@dataclass
class RateLimiter:
    """Sliding windows over the recent sends: a message goes out only when every window of its
    conversation (``per_conversation``) and of the whole bot (``global_limits``) has room, else
    it waits until the oldest send leaves the fullest window."""

    per_conversation: tuple[tuple[float, int], ...] = PER_CONVERSATION
    global_limits: tuple[tuple[float, int], ...] = GLOBAL
    clock: Clock = time.monotonic
    sleep: Sleep = asyncio.sleep
    _sent: dict[str, deque[float]] = field(default_factory=dict)
    _all: deque[float] = field(default_factory=deque)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @staticmethod
    def _delay(stamps: deque[float], limits: tuple[tuple[float, int], ...], now: float) -> float:
        longest = max(window for window, _ in limits)
        while stamps and stamps[0] <= now - longest:
            stamps.popleft()
        delay = 0.0
        for window, count in limits:
            recent = [s for s in stamps if s > now - window]
            if len(recent) >= count:
                delay = max(delay, recent[-count] + window - now)
        return delay

    async def acquire(self, conversation_id: str) -> float:
        """Wait until one more message may go to this conversation; returns how long it waited."""
        waited = 0.0
        async with self._lock:
            stamps = self._sent.setdefault(conversation_id, deque())
            while True:
                now = self.clock()
                delay = max(
                    self._delay(stamps, self.per_conversation, now),
                    self._delay(self._all, self.global_limits, now),
                )
                if delay <= 0:
                    stamps.append(now)
                    self._all.append(now)
                    return waited
                waited += delay
                await self.sleep(delay)


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds: a number, or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value.strip()))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _status(error: BaseException) -> tuple[int, float | None]:
    """The HTTP status and Retry-After of a failed connector call (0: no answer)."""
    response = getattr(error, "response", None)
    status = getattr(response, "status", None) or getattr(response, "status_code", None) or 0
    headers = getattr(response, "headers", None) or {}
    return int(status), retry_after_seconds(headers.get("Retry-After"))


@dataclass
class _Outcome:
    activity_id: str = ""
    reference: dict[str, Any] | None = None
    error: BaseException | None = None


class ProactiveSender:
    def __init__(
        self,
        adapter: CloudAdapter,
        bot_app_id: str,
        *,
        limiter: RateLimiter | None = None,
        sleep: Sleep = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.adapter = adapter
        self.bot_app_id = bot_app_id
        self.limiter = limiter or RateLimiter(sleep=sleep)
        self.sleep = sleep
        self.jitter = jitter
        self.max_attempts = max_attempts

    async def _with_retries(
        self, key: str, attempt_once: Callable[[], Awaitable[_Outcome]]
    ) -> _Outcome:
        attempt = 0
        while True:
            await self.limiter.acquire(key)
            outcome = await attempt_once()
            if outcome.error is None:
                return outcome
            status, retry_after = _status(outcome.error)
            attempt += 1
            passing = status == 0 or status in RETRIED
            if (
                not passing
                or attempt >= self.max_attempts
                or (retry_after is not None and retry_after > MAX_RETRY_AFTER)
            ):
                log.warning("proactive message to %s failed: %s", key, outcome.error)
                raise Unreachable(status, str(outcome.error)[:200]) from outcome.error
            delay = (
                retry_after
                if retry_after is not None
                else self.jitter() * min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1))
            )
            log.info(
                "proactive message to %s: %s, attempt %d in %.2fs", key, status, attempt + 1, delay
            )
            await self.sleep(delay)

    async def send(self, reference: dict[str, Any], activity: Activity) -> str:
        """Post ``activity`` to the conversation of a stored reference; the new activity's id."""
        ref = ConversationReference().deserialize(reference)
        key = ref.conversation.id if ref.conversation else "?"

        async def once() -> _Outcome:
            outcome = _Outcome()

            async def callback(context: TurnContext) -> None:
                # Caught here: the adapter would hand an escaping error to on_turn_error, which
                # would post an apology into the other person's chat.
                try:
                    response = await context.send_activity(activity)
                    outcome.activity_id = response.id if response and response.id else ""
                except Exception as error:  # classified by _with_retries
                    outcome.error = error

            try:
                await self.adapter.continue_conversation(ref, callback, self.bot_app_id)
            except Exception as error:  # e.g. the connector could not be built
                outcome.error = error
            return outcome

        return (await self._with_retries(key, once)).activity_id

    async def update(self, reference: dict[str, Any], activity_id: str, activity: Activity) -> None:
        """Replace a message the bot sent earlier (the card of an answered offer)."""
        ref = ConversationReference().deserialize(reference)
        key = ref.conversation.id if ref.conversation else "?"

        async def once() -> _Outcome:
            outcome = _Outcome()

            async def callback(context: TurnContext) -> None:
                try:
                    activity.id = activity_id
                    activity.conversation = context.activity.conversation
                    await context.update_activity(activity)
                except Exception as error:  # classified by _with_retries
                    outcome.error = error

            try:
                await self.adapter.continue_conversation(ref, callback, self.bot_app_id)
            except Exception as error:
                outcome.error = error
            return outcome

        await self._with_retries(key, once)

    async def start(
        self,
        *,
        service_url: str,
        tenant_id: str,
        user_aad_id: str,
        bot: dict[str, Any],
        activity: Activity,
    ) -> tuple[dict[str, Any], str]:
        """Create the personal chat with a user of the tenant and post ``activity`` in it;
        the new conversation's reference (to store) and the activity's id."""
        parameters = ConversationParameters(
            is_group=False,
            bot=ChannelAccount(id=bot.get("id"), name=bot.get("name")),
            members=[ChannelAccount(id=user_aad_id, aad_object_id=user_aad_id)],
            tenant_id=tenant_id,
            channel_data={"tenant": {"id": tenant_id}},
        )

        async def once() -> _Outcome:
            outcome = _Outcome()

            async def callback(context: TurnContext) -> None:
                try:
                    conversation = context.activity.conversation
                    reference = ConversationReference(
                        bot=ChannelAccount(id=bot.get("id"), name=bot.get("name")),
                        user=ChannelAccount(id=user_aad_id, aad_object_id=user_aad_id),
                        conversation=ConversationAccount(
                            id=conversation.id,
                            conversation_type="personal",
                            tenant_id=tenant_id,
                        ),
                        channel_id="msteams",
                        service_url=context.activity.service_url or service_url,
                    )
                    outcome.reference = reference.serialize()
                    response = await context.send_activity(activity)
                    outcome.activity_id = response.id if response and response.id else ""
                except Exception as error:  # classified by _with_retries
                    outcome.error = error

            try:
                await self.adapter.create_conversation(
                    self.bot_app_id, callback, parameters, "msteams", service_url
                )
            except Exception as error:  # the create call itself failed
                outcome.error = error
            return outcome

        outcome = await self._with_retries(f"new:{user_aad_id}", once)
        assert outcome.reference is not None
        return outcome.reference, outcome.activity_id
