"""The Teams activity handler: it identifies the person, builds their :class:`~bot.turn.Turn` and
routes it — a line to the command table (``bot/commands.py``), a card button to the verb table
(``bot/verbs.py``), a typeahead to the search table (``bot/search.py``), files to the intake
(``bot/attachments.py``). A refusal from ``hub/`` that a command lets rise is answered here with
the card that says why (:func:`bot.errors.error_card`). Nothing here decides anything: decisions
are ``hub/``'s.
"""

from __future__ import annotations

import logging
import re
from html.parser import HTMLParser
from typing import Any

from botbuilder.core import BotFrameworkAdapter, ConversationState, InvokeResponse, TurnContext
from botbuilder.core.teams import TeamsActivityHandler
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    AdaptiveCardInvokeResponse,
)
from msrest.serialization import Model

from bot.actions import ActionTable, action_data, is_card_action
from bot.attachments import FileIntake, files_of, inline_images, is_file_action
from bot.cards import refusal_card, unknown_command_card, unreadable_card, welcome_card
from bot.cards.documents import notice_card
from bot.cards.execute import VERB
from bot.commands import CommandTable
from bot.errors import error_card
from bot.search import SearchInvokeResponse, SearchTable
from bot.turn import CARD_TYPE, BotServices, Turn, card_activity, tenant_of
from hub import conversations
from hub.errors import NotRecognised, RelaisError, has_control_character
from hub.i18n import Translator
from hub.identity import Actor, resolve

log = logging.getLogger(__name__)

# Activity types that come from a person and deserve an answer, even a refusal.
PERSON_ACTIVITIES = {ActivityTypes.message, ActivityTypes.invoke, ActivityTypes.conversation_update}
CARD_ACTION = "adaptiveCard/action"
SEARCH = "application/search"
ERROR_TYPE = "application/vnd.microsoft.error"
# The SDK's own mark that an invoke was answered already.
INVOKE_RESPONSE = BotFrameworkAdapter._INVOKE_RESPONSE_KEY


class _KnownTrigger(logging.Filter):
    """Drops msrest's warning that ``trigger`` is not an attribute of the invoke value: Teams
    sends ``trigger`` (manual or automatic) with every ``Action.Execute``, and the SDK's model has
    no field for it, so every card click logged it. Any other unknown attribute still warns."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        return not (
            record.msg == SDK_UNKNOWN_ATTRIBUTE
            and len(args) == 2
            and args[0] == "trigger"
            and getattr(args[1], "__name__", "") == "AdaptiveCardInvokeValue"
        )


SDK_LOGGER = "msrest.serialization"
SDK_UNKNOWN_ATTRIBUTE = "%s is not a known attribute of class %s and will be ignored"


def quiet_known_sdk_warnings() -> None:
    """Installs :class:`_KnownTrigger` on msrest's logger, once however many bots are built."""
    logger = logging.getLogger(SDK_LOGGER)
    if not any(isinstance(f, _KnownTrigger) for f in logger.filters):
        logger.addFilter(_KnownTrigger())


def card_response(card: dict[str, Any]) -> InvokeResponse:
    """The answer to ``adaptiveCard/action``: the card that replaces the one clicked."""
    return InvokeResponse(
        status=200, body=AdaptiveCardInvokeResponse(status_code=200, type=CARD_TYPE, value=card)
    )


def invoke_error(status: int, code: str, message: str) -> InvokeResponse:
    """An invoke refused, in the Universal Actions error shape Teams understands."""
    return InvokeResponse(
        status=status,
        body=AdaptiveCardInvokeResponse(
            status_code=status, type=ERROR_TYPE, value={"code": code, "message": message}
        ),
    )


def unreadable(activity: Activity) -> bool:
    """Whether any text of the activity (its fields, the card's data, the attachments' names...)
    holds a character Relais refuses to read (:func:`hub.errors.has_control_character`). The endpoint bounds the
    activity's size and depth, so the walk is short."""
    stack: list[Any] = [activity]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if has_control_character(item, lone_surrogates=True):
                return True
        elif isinstance(item, Model):
            stack.extend(vars(item).values())
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False


def execute_action(value: Any) -> dict[str, Any] | None:
    """The ``Action.Execute`` of an ``adaptiveCard/action`` value, or None when it is not one."""
    action = value.get("action") if isinstance(value, dict) else None
    if isinstance(action, dict) and action.get("type") == "Action.Execute":
        return action
    return None


def translator(context: TurnContext, actor: Actor | None = None) -> Translator:
    # The activity's locale is what Teams shows the person now; the stored one is a fallback.
    return Translator("bot", context.activity.locale or (actor.locale if actor else "fr"))


class RelaisBot(TeamsActivityHandler):
    """Answers the activities of people (messages, card buttons and typeaheads, the app's
    installation), each with its :class:`Turn`; the SDK's dispatch is not used, since its
    methods receive only the Teams context."""

    def __init__(
        self,
        services: BotServices,
        conversation_state: ConversationState,
        commands: CommandTable,
        actions: ActionTable,
        searches: SearchTable,
        intake: FileIntake,
    ) -> None:
        self.services = services
        self.conversation_state = conversation_state
        self.commands = commands
        self.actions = actions
        self.searches = searches
        # Files sent in a personal chat, and the answers to the "where should I file it?" card.
        self.intake = intake
        quiet_known_sdk_warnings()

    async def on_turn(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if activity.type not in PERSON_ACTIVITIES:
            return
        if unreadable(activity):
            # Refused before anything is looked up or stored (the database would refuse it).
            log.info("refused a %s activity with control characters", activity.type)
            await self._decline(turn_context, unreadable_card(translator(turn_context)), 400)
            return
        try:
            actor = await resolve(
                self.services.hub.sessions,
                tenant_of(turn_context),
                activity.from_property.aad_object_id,
            )
        except NotRecognised as refused:
            log.info("refused a %s activity: %s", activity.type, refused.params.get("reason"))
            await self._decline(turn_context, refusal_card(translator(turn_context)), 403)
            return
        await self._remember(turn_context, actor)
        turn = Turn(turn_context, actor, translator(turn_context, actor), self.services)
        try:
            await self._dispatch(turn)
        except RelaisError as error:
            log.info("turn refused: %s", error)
            await turn.send_card(error_card(turn.t, error))
        await self.conversation_state.save_changes(turn_context)

    async def _dispatch(self, turn: Turn) -> None:
        kind = turn.context.activity.type
        if kind == ActivityTypes.message:
            await self._on_message(turn)
        elif kind == ActivityTypes.invoke:
            response = await self._on_invoke(turn)
            # An SDK handler may have answered the invoke itself already.
            if response and not turn.context.turn_state.get(INVOKE_RESPONSE):
                await self._invoke_answer(turn.context, response)
        elif self._bot_was_added(turn.context):  # a conversation update
            await self._welcome(turn)

    async def _decline(self, context: TurnContext, card: dict[str, Any], status: int) -> None:
        """Answer without a turn (someone Relais does not know, an unreadable activity): the card
        where Teams shows one, an empty search, or an invoke error (``status``) for other
        invokes; nothing when Teams only says the app was updated."""
        activity = context.activity
        if activity.type == ActivityTypes.invoke:
            if activity.name == CARD_ACTION:
                answer = card_response(card)
            elif activity.name == SEARCH:
                answer = InvokeResponse(status=200, body=SearchInvokeResponse(results=[]))
            else:
                answer = invoke_error(status, "Refused", "Relais does not answer this request.")
            await self._invoke_answer(context, answer)
        elif activity.type == ActivityTypes.message or self._bot_was_added(context):
            await context.send_activity(card_activity(card))

    async def _remember(self, context: TurnContext, actor: Actor) -> None:
        reference = TurnContext.get_conversation_reference(context.activity).serialize()
        # The id of this one message changes every turn and is not needed to write later.
        reference.pop("activityId", None)
        await conversations.remember(
            self.services.hub.sessions,
            actor,
            context.activity.from_property.aad_object_id,
            reference,
        )

    @staticmethod
    async def _invoke_answer(context: TurnContext, response: InvokeResponse) -> None:
        await context.send_activity(Activity(type=ActivityTypes.invoke_response, value=response))

    async def _on_invoke(self, turn: Turn) -> InvokeResponse:
        """Card buttons (``adaptiveCard/action``) and typeaheads (``application/search``); the
        answers are built here as models so the adapter serialises them once. Another invoke
        is refused with a 400 (the SDK would answer 501, or fail on a malformed value)."""
        activity = turn.context.activity
        if activity.name == SEARCH:
            body = await self.searches.answer(turn.hub, turn.actor, activity.value)
            return InvokeResponse(status=200, body=body)
        if activity.name == CARD_ACTION:
            action = execute_action(activity.value)
            if action is None:
                return invoke_error(400, "BadRequest", "The value is not an Action.Execute.")
            return card_response(await self._run_action(turn, action))
        return invoke_error(400, "NotSupported", "Relais does not answer this kind of invoke.")

    async def _run_action(self, turn: Turn, action: dict[str, Any]) -> dict[str, Any]:
        data = action.get("data") if isinstance(action.get("data"), dict) else {}
        turn.data = action_data(data)
        return await self.actions.run(turn, str(action.get("verb") or ""))

    async def _run_fallback(self, turn: Turn, value: dict[str, Any]) -> None:
        """An older client's ``Action.Submit``: run the same verb, and put the answer in place of
        the card clicked (its message is ``replyToId``), or below it when that is unknown."""
        turn.data = action_data(value)
        reply = card_activity(await self.actions.run(turn, value[VERB]))
        if turn.context.activity.reply_to_id:
            reply.id = turn.context.activity.reply_to_id
            await turn.context.update_activity(reply)
        else:
            await turn.context.send_activity(reply)

    @staticmethod
    def _bot_was_added(context: TurnContext) -> bool:
        recipient = context.activity.recipient.id if context.activity.recipient else None
        return any(
            getattr(m, "id", None) == recipient for m in context.activity.members_added or []
        )

    async def _on_message(self, turn: Turn) -> None:
        activity = turn.context.activity
        if files := files_of(activity):
            await self.intake.receive(turn, files)
            return
        if is_file_action(activity.value):
            await self.intake.choose(turn, activity.value)
            return
        if is_card_action(activity.value):
            await self._run_fallback(turn, activity.value)
            return
        if inline_images(activity):
            await turn.send_card(notice_card(turn.t, "documents.inline_image"))
            return
        text = typed_text(activity)
        if not text:
            return
        command, turn.args = self.commands.find(text)
        if command is None or turn.actor.kind not in command.audience:
            help_word = self.commands.help_word(turn.lang)
            await turn.send_card(unknown_command_card(turn.t, text, help_word))
            return
        await command.handler(turn)

    async def _welcome(self, turn: Turn) -> None:
        """The bot's own arrival (the app was installed). Not the SDK's Teams dispatch, which
        would first fetch every added member from the connector, a call we do not need."""
        card = welcome_card(
            turn.t,
            turn.actor.display_name,
            turn.actor.firm_name,
            turn.actor.is_staff,
            self.commands.help_word(turn.lang),
        )
        await turn.send_card(card)


HTML = "text/html"
# The formats in which Teams sends a message typed with formatting (bold, a list, a paste).
MARKUP_FORMATS = {"xml", "html"}
STARTS_WITH_TAG = re.compile(r"^\s*<[a-z][a-z0-9]*[\s/>]", re.IGNORECASE)
BLOCKS = {"p", "div", "br", "li", "tr", "td", "h1", "h2", "h3", "blockquote", "pre"}


class _PlainText(HTMLParser):
    """The words of an HTML message: tags dropped, entities read, every ``<at>`` mention left
    out (the bot's name is no part of the command), blocks and line breaks as spaces."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.in_mention = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "at":
            self.in_mention += 1
        elif tag in BLOCKS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "at":
            self.in_mention = max(0, self.in_mention - 1)
        elif tag in BLOCKS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self.in_mention:
            self.parts.append(data)


def plain_text(markup: str) -> str:
    parser = _PlainText()
    parser.feed(markup)
    parser.close()
    return " ".join("".join(parser.parts).split())


def _html_copy(activity: Activity) -> str:
    for attachment in activity.attachments or []:
        if attachment.content_type == HTML and isinstance(attachment.content, str):
            return attachment.content
    return ""


def typed_text(activity: Activity) -> str:
    """What the person typed, as a command reads it: without the bot's @mention, and as plain
    words when Teams sent it with formatting (``<p>aide</p>``, textFormat ``xml``, or only the
    ``text/html`` copy of the message)."""
    text = _text_without_mention(activity)
    markup = (activity.text_format or "").lower() in MARKUP_FORMATS or STARTS_WITH_TAG.match(text)
    if not text.strip():
        text, markup = _html_copy(activity), True
    return plain_text(text) if markup else " ".join(text.split())


def _text_without_mention(activity: Activity) -> str:
    """The message's text without the bot's @mention (in a channel or group chat)."""
    try:
        return TurnContext.remove_recipient_mention(activity) or ""
    except (AttributeError, KeyError, TypeError):
        # The SDK trusts every mention entity to be well formed; keep the text as sent.
        return activity.text if isinstance(activity.text, str) else ""
