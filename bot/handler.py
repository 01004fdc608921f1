"""The Teams activity handler: it identifies the person, builds their :class:`~bot.turn.Turn` and
routes it — a line to the command table (``bot/commands.py``), a card button to the verb table
(``bot/verbs.py``), a typeahead to the search table (``bot/search.py``), files to the intake
(``bot/attachments.py``). A refusal from ``hub/`` that a command lets rise is answered here with
the card that says why (:func:`bot.errors.error_card`). Nothing here decides anything: decisions
are ``hub/``'s.
"""

from __future__ import annotations

import logging
from typing import Any

from botbuilder.core import BotFrameworkAdapter, ConversationState, InvokeResponse, TurnContext
from botbuilder.core.teams import TeamsActivityHandler
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    AdaptiveCardInvokeResponse,
    AdaptiveCardInvokeValue,
)

from bot.actions import ActionTable, action_data, is_card_action
from bot.attachments import FileIntake, files_of, is_file_action
from bot.cards import refusal_card, unknown_command_card, welcome_card
from bot.cards.execute import VERB
from bot.commands import CommandTable
from bot.errors import error_card
from bot.search import SearchTable
from bot.turn import CARD_TYPE, BotServices, Turn, card_activity, tenant_of
from hub import conversations
from hub.errors import NotRecognised, RelaisError
from hub.i18n import Translator
from hub.identity import Actor, resolve

log = logging.getLogger(__name__)

# Activity types that come from a person and deserve an answer, even a refusal.
PERSON_ACTIVITIES = {ActivityTypes.message, ActivityTypes.invoke, ActivityTypes.conversation_update}
CARD_ACTION = "adaptiveCard/action"
SEARCH = "application/search"
# The SDK's own mark that an invoke was answered already.
INVOKE_RESPONSE = BotFrameworkAdapter._INVOKE_RESPONSE_KEY


def card_response(card: dict[str, Any]) -> InvokeResponse:
    """The answer to ``adaptiveCard/action``: the card that replaces the one clicked."""
    return InvokeResponse(
        status=200, body=AdaptiveCardInvokeResponse(status_code=200, type=CARD_TYPE, value=card)
    )


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

    async def on_turn(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if activity.type not in PERSON_ACTIVITIES:
            return
        try:
            actor = await resolve(
                self.services.hub.sessions,
                tenant_of(turn_context),
                activity.from_property.aad_object_id,
            )
        except NotRecognised as refused:
            log.info("refused a %s activity: %s", activity.type, refused.params.get("reason"))
            await self._refuse(turn_context)
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

    async def _refuse(self, context: TurnContext) -> None:
        """Someone Relais does not know: told so, unless Teams only says the app was updated."""
        activity = context.activity
        if activity.type == ActivityTypes.conversation_update and not self._bot_was_added(context):
            return
        refusal = refusal_card(translator(context))
        if activity.type == ActivityTypes.invoke and activity.name == CARD_ACTION:
            await self._invoke_answer(context, card_response(refusal))
        elif activity.type != ActivityTypes.invoke:
            await context.send_activity(card_activity(refusal))

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
        answers are built here as models so the adapter serialises them once. Other invokes get
        the SDK's answer."""
        activity = turn.context.activity
        if activity.name == SEARCH:
            body = await self.searches.answer(turn.hub, turn.actor, activity.value)
            return InvokeResponse(status=200, body=body)
        if activity.name == CARD_ACTION:
            invoke = self._get_adaptive_card_invoke_value(activity)
            return card_response(await self._run_action(turn, invoke))
        return await super().on_invoke_activity(turn.context)

    async def _run_action(self, turn: Turn, invoke: AdaptiveCardInvokeValue) -> dict[str, Any]:
        action = invoke.action or {}
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
        return any(m.id == recipient for m in context.activity.members_added or [])

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
        text = (TurnContext.remove_recipient_mention(activity) or "").strip()
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
