"""``POST /api/messages``: the Bot Framework endpoint, through botbuilder's CloudAdapter.

:func:`connect` builds the bot's link to Teams from the settings (the authentication, the
adapter, the proactive sender and the offers' Teams port, :class:`~bot.teams.TeamsCards`); it
opens nothing. The composition root gives the port to the hub's services, then calls
:func:`setup`, which serves the endpoint and, when the app starts, builds the bot (its state on
the database, the tables, the file intake on one HTTP client) and the failed-send notice rounds;
both are closed at shutdown. Nothing is created at import time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from botbuilder.core import ConversationState, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter

from bot.attachments import FileIntake
from bot.auth import RelaisBotAuthentication, build_authentication
from bot.cards import apology_card
from bot.commands import default_commands
from bot.handler import RelaisBot
from bot.notices import NoticeDispatcher
from bot.proactive import ProactiveSender
from bot.search import default_searches
from bot.state import DatabaseStorage
from bot.teams import TeamsCards
from bot.turn import BotServices, card_activity
from bot.verbs import default_actions
from connectors.addresses import policy_for
from connectors.teams_files import TeamsFiles, download_client
from hub.documents import MAX_DOCUMENT_SIZE
from hub.i18n import Translator
from hub.services import Hub
from hub.settings import Settings

log = logging.getLogger(__name__)

BOT = web.AppKey("bot", RelaisBot)
# The proactive sender and the use-cases, for tests that swap the sender's clock or sleep.
SERVICES = web.AppKey("bot_services", BotServices)
# The failed-send notice dispatcher, for tests that run a round at the time they choose.
NOTICES = web.AppKey("bot_notices", NoticeDispatcher)


@dataclass(frozen=True)
class TeamsLink:
    """The bot's way into Teams: inbound (the adapter checks who posts) and outbound (the
    sender; ``port`` is what the hub's offers use)."""

    authentication: RelaisBotAuthentication
    adapter: CloudAdapter
    sender: ProactiveSender
    port: TeamsCards


async def _on_turn_error(context: TurnContext, error: Exception) -> None:
    """Anything that escaped the handler: log it whole, tell the person in one short card."""
    log.exception("bot turn failed", exc_info=error)
    t = Translator("bot", context.activity.locale or "fr")
    try:
        await context.send_activity(card_activity(apology_card(t)))
    except Exception:
        log.exception("could not send the apology card either")


def connect(settings: Settings) -> TeamsLink:
    """The adapter and the proactive sender from the settings (no connection opened)."""
    authentication = build_authentication(settings)
    adapter = CloudAdapter(authentication)
    adapter.on_turn_error = _on_turn_error
    sender = ProactiveSender(adapter, settings.bot_app_id)
    # The Teams app's id is the bot's (manifest/build.py); the demo's is a fixed one.
    return TeamsLink(authentication, adapter, sender, TeamsCards(sender, settings.teams_app_id))


async def _bot(app: web.Application, hub: Hub, link: TeamsLink) -> AsyncIterator[None]:
    settings = hub.settings
    state = ConversationState(DatabaseStorage(hub.sessions))
    commands = default_commands()
    services = BotServices(
        hub=hub, sender=link.sender, commands=commands, panel_url=f"{settings.base_url}/admin/"
    )
    app[SERVICES] = services
    outbound = policy_for(settings.demo, settings.outbound_allow)
    async with download_client(outbound) as client:
        # Teams' file links are https; the demo's local fakes serve plain http.
        files = TeamsFiles(
            client, max_size=MAX_DOCUMENT_SIZE, allow_http=settings.demo, outbound=outbound
        )
        app[BOT] = RelaisBot(
            services,
            state,
            commands,
            default_actions(),
            default_searches(),
            FileIntake(hub, state, files),
        )
        notices = NoticeDispatcher(
            hub,
            link.sender,
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
    await link.authentication.close()


def _bad_request(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _messages(link: TeamsLink) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def messages(request: web.Request) -> web.StreamResponse:
        # The SDK answers 500 to a missing content type or a body that is not JSON: say what is
        # wrong instead.
        if "application/json" not in request.headers.get("Content-Type", ""):
            return _bad_request(415, "Bot Framework activities are sent as application/json.")
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _bad_request(400, "The body is not valid JSON.")
        if not isinstance(body, dict) or not body.get("type"):
            return _bad_request(400, "The body is not a Bot Framework activity (no type).")
        response = await link.adapter.process(request, request.app[BOT])
        return response or web.Response(status=201)

    return messages


def setup(app: web.Application, hub: Hub, link: TeamsLink) -> None:
    """Serve ``/api/messages`` on ``app`` with the hub's services and the bot's link to Teams
    (the bot and its background rounds are built when the app starts)."""
    app.cleanup_ctx.append(lambda app: _bot(app, hub, link))
    app.router.add_post("/api/messages", _messages(link))
