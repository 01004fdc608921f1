"""``POST /api/messages``: the Bot Framework endpoint, through botbuilder's CloudAdapter.

:func:`connect` builds the bot's link to Teams from the settings (the authentication, the
adapter, the proactive sender and the offers' Teams port, :class:`~bot.teams.TeamsCards`); it
opens nothing. The composition root gives the port to the hub's services, then calls
:func:`setup`, which serves the endpoint and, when the app starts, builds the bot (its state on
the database, the tables, the file intake on one HTTP client) and the failed-send notice rounds;
both are closed at shutdown. Nothing is created at import time.

What reaches the SDK has been checked here first, cheapest first: the announced size (256 KiB at
most, whatever the application's bound for panel uploads), the token alone (before the body is
read), the body read up to that bound, JSON, the fields the SDK and the bot rely on
(:func:`activity_problem`), then the SDK's full authentication. Each refusal is a 4xx that says
why; control characters in what a person wrote are answered by the bot itself, with a card.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from botbuilder.core import ConversationState, TurnContext, serializer_helper
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity, ActivityTypes
from msrest.exceptions import DeserializationError

from bot.attachments import FileIntake
from bot.auth import RelaisBotAuthentication, build_authentication
from bot.cards import apology_card
from bot.commands import default_commands
from bot.handler import INVOKE_RESPONSE, RelaisBot, card_response
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
from hub.errors import has_control_character
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
    card = apology_card(t)
    try:
        if context.activity.type != ActivityTypes.invoke:
            await context.send_activity(card_activity(card))
        elif not context.turn_state.get(INVOKE_RESPONSE):
            # Without an invoke response the adapter answers 501; the card shows in place.
            await context.send_activity(
                Activity(type=ActivityTypes.invoke_response, value=card_response(card))
            )
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


# Teams activities are a few kilobytes (files arrive as links, not bytes); the application's
# own bound (relais/app.py) is sized for the panel's uploads and does not apply here.
MAX_ACTIVITY_BYTES = 256 * 1024
# Activities are shallow JSON; a deeper one is not from Teams, and would only cost recursion.
MAX_ACTIVITY_DEPTH = 32
# Where the SDK files a conversation's state: "<channel>/conversations/<id>" in 500 characters.
MAX_CHANNEL_ID = 64
MAX_CONVERSATION_ID = 400
# The reply's URL holds the service URL, the conversation's id and the activity's, percent-encoded
# (up to 12 bytes a character): together they stay under the 8 KiB a request line may have.
MAX_SERVICE_URL = 512
MAX_ID = 128
PERSON_FIELDS = ("from", "recipient", "conversation")
# The activity's lists of objects (attachments, entities, membersAdded...): the SDK reads a null
# or a number among them as a missing object, which the handlers then trip over.
OBJECT_LISTS = tuple(
    field["key"]
    for field in Activity._attribute_map.values()
    if field["type"].startswith("[") and field["type"] != "[str]"
)


class _TooLarge(Exception):
    pass


class _WithoutRequestText(logging.Filter):
    """aiohttp logs a request it cannot parse with the parser's exception, whose message quotes
    the first 100 bytes of the offending line: for an Authorization header over 8 KiB, the
    start of the token. Keep the line, the client's address and the kind of error only."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            record.args = (record.getMessage(), type(error).__name__, error.code)
            record.msg = "%s: %s (%s), request refused"
            record.exc_info, record.exc_text = None, None
        return True


def _quiet_unparsable_requests() -> None:
    logger = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, _WithoutRequestText) for f in logger.filters):
        logger.addFilter(_WithoutRequestText())


def _refused(status: int, message: str, *, unread: bool = False) -> web.Response:
    response = web.json_response({"error": message}, status=status)
    if unread:
        # The body was not read: tell the client this connection ends here (aiohttp discards
        # whatever still arrives for a few seconds, without keeping it, then closes).
        response.force_close()
    return response


async def _read_bounded(request: web.Request, limit: int) -> bytes:
    """The body, refused as soon as it passes ``limit`` (a chunked body declares no length)."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(limit + 1 - size):
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _depth(value: Any) -> int:
    """How deeply ``value`` nests (up to just past the bound), counted without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack and deepest <= MAX_ACTIVITY_DEPTH:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if isinstance(item, dict):
            stack.extend((child, level + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, level + 1) for child in item)
    return deepest


def _text_field(body: dict[str, Any], key: str, limit: int) -> bool:
    value = body.get(key)
    return isinstance(value, str) and 0 < len(value) <= limit


def _ids(body: dict[str, Any]) -> list[Any]:
    """The ids a reply is addressed with, besides the conversation's (some end up in URLs)."""
    people = [body.get(field) for field in ("from", "recipient")]
    ids = [person.get("id") for person in people if isinstance(person, dict)]
    return [body.get("id"), body.get("replyToId"), *ids]


def _unaddressable(body: dict[str, Any]) -> bool:
    ids = _ids(body)
    if any(value is not None and not isinstance(value, str) for value in ids):
        return True
    if any(len(value) > MAX_ID for value in ids if isinstance(value, str)):
        return True
    texts = [*ids, body["serviceUrl"], body["conversation"]["id"]]
    return any(
        isinstance(value, str) and has_control_character(value, lone_surrogates=True)
        for value in texts
    )


def _lists_hold_objects(body: dict[str, Any]) -> bool:
    lists = [body.get(key) for key in OBJECT_LISTS]
    return all(
        items is None or (isinstance(items, list) and all(isinstance(i, dict) for i in items))
        for items in lists
    )


def activity_problem(body: Any) -> str | None:
    """Why ``body`` is not an activity Relais can answer, or None. The SDK would turn most of
    these into a 500 (or, for a missing channel id, skip the endorsement check)."""
    if not isinstance(body, dict):
        return "The body is not a Bot Framework activity (not a JSON object)."
    if not _text_field(body, "type", 64):
        return "The body is not a Bot Framework activity (no type)."
    if not _text_field(body, "channelId", MAX_CHANNEL_ID):
        return "The activity names no channel (channelId)."
    url = body.get("serviceUrl")
    if not _text_field(body, "serviceUrl", MAX_SERVICE_URL) or not str(url).startswith(
        ("https://", "http://")
    ):
        return "The activity has no serviceUrl to answer at."
    if not all(isinstance(body.get(field), dict) for field in PERSON_FIELDS):
        return "The activity does not say who sends it, to whom, in which conversation."
    if not _text_field(body["conversation"], "id", MAX_CONVERSATION_ID):
        return "The activity's conversation has no usable id."
    if _unaddressable(body):
        # No reply could be addressed with these (control characters in the text itself are
        # answered by the bot, with a card that says so).
        return "The activity's ids are too long, not text, or hold control characters."
    if not _lists_hold_objects(body):
        return "The activity's lists (attachments, entities, members...) hold other than objects."
    if _depth(body) > MAX_ACTIVITY_DEPTH:
        return "The activity nests too deeply."
    return None


async def _activity(request: web.Request) -> Activity | web.Response:
    """The activity the request carries, or the 4xx that says why it does not carry one."""
    if "application/json" not in request.headers.get("Content-Type", ""):
        return _refused(415, "Bot Framework activities are sent as application/json.", unread=True)
    try:
        raw = await _read_bounded(request, MAX_ACTIVITY_BYTES)
    except _TooLarge:
        return _refused(413, "The activity is too large.", unread=True)
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested past the parser
        return _refused(400, "The body is not valid JSON.")
    problem = activity_problem(body)
    if problem is not None:
        return _refused(400, problem)
    try:
        return Activity().deserialize(body)
    except DeserializationError:  # a field of the wrong shape (a list that is a string...)
        return _refused(
            400, "The body is not a Bot Framework activity (a field has the wrong type)."
        )


def _messages(link: TeamsLink) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def messages(request: web.Request) -> web.StreamResponse:
        # Cheapest first, and nothing read before the caller is known: the declared size, then
        # the token alone, then the body (bounded), then the activity's own claims.
        if (request.content_length or 0) > MAX_ACTIVITY_BYTES:
            return _refused(413, "The activity is too large.", unread=True)
        header = request.headers.get("Authorization")
        try:
            await link.authentication.authenticate_caller(header)
        except PermissionError:
            return _refused(401, "Unauthorized.", unread=True)
        activity = await _activity(request)
        if isinstance(activity, web.Response):
            return activity
        try:
            result = await link.authentication.authenticate_request(activity, header or "")
        except PermissionError:
            return _refused(401, "Unauthorized.")
        bot = request.app[BOT]
        answer = await link.adapter.process_activity(result, activity, bot.on_turn)
        if answer is None:
            return web.Response(status=201)
        return web.json_response(serializer_helper(answer.body), status=answer.status)

    return messages


def setup(app: web.Application, hub: Hub, link: TeamsLink) -> None:
    """Serve ``/api/messages`` on ``app`` with the hub's services and the bot's link to Teams
    (the bot and its background rounds are built when the app starts)."""
    _quiet_unparsable_requests()
    app.cleanup_ctx.append(lambda app: _bot(app, hub, link))
    app.router.add_post("/api/messages", _messages(link))
