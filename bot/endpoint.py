"""``POST /api/messages``: the Bot Framework endpoint, through botbuilder's CloudAdapter.

The adapter, the bot and its state are built in ``cleanup_ctx`` from settings, after the database
is open; nothing is created at import time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator

from aiohttp import web
from botbuilder.core import ConversationState, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter

from bot import cards
from bot.actions import BotServices
from bot.attachments import FileIntake
from bot.auth import build_authentication
from bot.commands import card_activity, default_commands
from bot.handler import RelaisBot
from bot.notices import NoticeDispatcher
from bot.offering import courier
from bot.proactive import ProactiveSender
from bot.search import default_searches
from bot.state import DatabaseStorage
from bot.verbs import default_actions
from hub.i18n import Translator
from hub.services import Hub
from relais.keys import COURIER

log = logging.getLogger("relais.bot")

ADAPTER = web.AppKey("bot_adapter", CloudAdapter)
BOT = web.AppKey("bot", RelaisBot)
# The proactive sender and the use-cases, for tests that swap the sender's clock or sleep.
SERVICES = web.AppKey("bot_services", BotServices)
# The failed-send notice dispatcher, for tests that run a round at the time they choose.
NOTICES = web.AppKey("bot_notices", NoticeDispatcher)


async def _on_turn_error(context: TurnContext, error: Exception) -> None:
    """Anything that escaped the handler: log it whole, tell the person in one short card."""
    log.exception("bot turn failed", exc_info=error)
    t = Translator("bot", context.activity.locale or "fr")
    try:
        await context.send_activity(card_activity(cards.error_card(t, t.lang)))
    except Exception:
        log.exception("could not send the error card either")


async def _bot(app: web.Application, hub: Hub) -> AsyncIterator[None]:
    settings = hub.settings
    authentication = build_authentication(settings)
    adapter = CloudAdapter(authentication)
    adapter.on_turn_error = _on_turn_error
    state = ConversationState(DatabaseStorage(hub.sessions))
    app[ADAPTER] = adapter
    # Teams' file links are https; the demo's local fakes serve plain http.
    intake = FileIntake(hub, state, allow_http=settings.demo)
    panel_url = f"{settings.base_url}/admin/"
    # The Teams app's id is the bot's (manifest/build.py); without one (demo) nothing is installed.
    services = BotServices(
        hub=hub,
        sender=ProactiveSender(adapter, settings.bot_app_id),
        teams_app_id=settings.bot_app_id,
        panel_url=panel_url,
    )
    app[SERVICES] = services
    app[COURIER] = courier(services)  # the same courier the bot's own offers use
    app[BOT] = RelaisBot(
        hub.sessions,
        state,
        default_commands(),
        panel_url,
        intake,
        actions=default_actions(),
        searches=default_searches(),
        services=services,
    )
    assert services.sender is not None
    notices = NoticeDispatcher(
        hub,
        services.sender,
        f"{settings.base_url}/admin/dashboard",
        interval=settings.notice_interval_seconds,
    )
    app[NOTICES] = notices
    # 0 switches this process's rounds off (another ``relais serve`` sends the notices).
    rounds = (
        asyncio.create_task(notices.run_forever(), name="relais-failure-notices")
        if settings.notice_interval_seconds > 0
        else None
    )
    yield
    if rounds is not None:
        rounds.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await rounds
    await authentication.close()


def _bad_request(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def messages(request: web.Request) -> web.StreamResponse:
    # The SDK answers 500 to a missing content type or a body that is not JSON; say what is wrong.
    if "application/json" not in request.headers.get("Content-Type", ""):
        return _bad_request(415, "Bot Framework activities are sent as application/json.")
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _bad_request(400, "The body is not valid JSON.")
    if not isinstance(body, dict) or not body.get("type"):
        return _bad_request(400, "The body is not a Bot Framework activity (no type).")
    response = await request.app[ADAPTER].process(request, request.app[BOT])
    return response or web.Response(status=201)


def setup(app: web.Application, hub: Hub) -> None:
    """Serve ``/api/messages`` on ``app`` with the hub's services (the adapter, the bot and its
    background rounds are built when the app starts)."""
    app.cleanup_ctx.append(lambda app: _bot(app, hub))
    app.router.add_post("/api/messages", messages)
