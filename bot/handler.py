"""The Teams activity handler: it identifies the person, routes, and turns errors into cards.

Nothing here decides anything: commands live in the table (``bot/commands.py``), decisions in
``hub/``.
"""

from __future__ import annotations

import logging
from typing import Any

from botbuilder.core import ConversationState, InvokeResponse, TurnContext
from botbuilder.core.teams import TeamsActivityHandler
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    AdaptiveCardInvokeResponse,
    AdaptiveCardInvokeValue,
)

from bot import cards
from bot.actions import SERVICES, ActionTable, ActionTurn, BotServices, action_data, is_card_action
from bot.attachments import FileIntake, files_of, is_file_action
from bot.cards.execute import VERB
from bot.commands import CARD_TYPE, CommandTable, Turn, card_activity
from bot.search import SearchTable
from hub import conversations
from hub.errors import NotRecognised, RelaisError
from hub.i18n import Translator
from hub.identity import Actor, resolve
from storage.db import Sessions

log = logging.getLogger("relais.bot")

ACTOR = "relais.actor"
COMMANDS = "relais.commands"
# Activity types that come from a person and deserve an answer, even a refusal.
PERSON_ACTIVITIES = {ActivityTypes.message, ActivityTypes.invoke, ActivityTypes.conversation_update}
CARD_ACTION = "adaptiveCard/action"
SEARCH = "application/search"


def card_response(card: dict[str, Any]) -> InvokeResponse:
    """The answer to ``adaptiveCard/action``: the card that replaces the one clicked."""
    return InvokeResponse(
        status=200, body=AdaptiveCardInvokeResponse(status_code=200, type=CARD_TYPE, value=card)
    )


def tenant_of(context: TurnContext) -> str | None:
    activity = context.activity
    channel_data = activity.channel_data or {}
    tenant = (
        (channel_data.get("tenant") or {}).get("id") if isinstance(channel_data, dict) else None
    )
    return tenant or (activity.conversation.tenant_id if activity.conversation else None)


class RelaisBot(TeamsActivityHandler):
    def __init__(
        self,
        sessions: Sessions,
        conversation_state: ConversationState,
        commands: CommandTable,
        panel_url: str,
        intake: FileIntake | None = None,
        *,
        actions: ActionTable | None = None,
        searches: SearchTable | None = None,
        services: BotServices | None = None,
    ) -> None:
        self.sessions = sessions
        self.conversation_state = conversation_state
        self.commands = commands
        self.panel_url = panel_url
        # Files sent in a personal chat, and the answers to the "where should I file it?" card.
        self.intake = intake
        # Card buttons (verb → handler) and typeahead datasets, each a table.
        self.actions = actions
        self.searches = searches
        self.services = services

    def _t(self, context: TurnContext, actor: Actor | None = None) -> Translator:
        # The activity's locale is what Teams shows the person now; the stored one is a fallback.
        return Translator("bot", context.activity.locale or (actor.locale if actor else "fr"))

    async def on_turn(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if activity.type not in PERSON_ACTIVITIES:
            return
        try:
            actor = await resolve(
                self.sessions, tenant_of(turn_context), activity.from_property.aad_object_id
            )
        except NotRecognised as refused:
            log.info("refused a %s activity: %s", activity.type, refused.params.get("reason"))
            if activity.type != ActivityTypes.conversation_update or self._bot_was_added(
                turn_context
            ):
                t = self._t(turn_context)
                refusal = cards.refusal_card(t, t.lang)
                if activity.type == ActivityTypes.invoke and activity.name == CARD_ACTION:
                    await self._invoke_answer(turn_context, card_response(refusal))
                elif activity.type != ActivityTypes.invoke:
                    await turn_context.send_activity(card_activity(refusal))
            return
        turn_context.turn_state[ACTOR] = actor
        turn_context.turn_state[COMMANDS] = self.commands
        turn_context.turn_state[SERVICES] = self.services
        await self._remember(turn_context, actor)
        t = self._t(turn_context, actor)
        try:
            await super().on_turn(turn_context)
        except RelaisError as error:
            log.info("turn refused: %s", error)
            await turn_context.send_activity(card_activity(cards.error_card(t, t.lang, error.key)))
        await self.conversation_state.save_changes(turn_context)

    async def _remember(self, context: TurnContext, actor: Actor) -> None:
        reference = TurnContext.get_conversation_reference(context.activity).serialize()
        # The id of this one message changes every turn and is not needed to write later.
        reference.pop("activityId", None)
        await conversations.remember(
            self.sessions, actor, context.activity.from_property.aad_object_id, reference
        )

    @staticmethod
    async def _invoke_answer(context: TurnContext, response: InvokeResponse) -> None:
        await context.send_activity(Activity(type=ActivityTypes.invoke_response, value=response))

    def _action_turn(self, context: TurnContext, data: dict[str, Any]) -> ActionTurn:
        actor: Actor = context.turn_state[ACTOR]
        assert self.services is not None
        return ActionTurn(
            context, actor, self._t(context, actor), data, self.services, tenant_of(context) or ""
        )

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        """Card buttons (``adaptiveCard/action``) and typeaheads (``application/search``); the
        answers are built here as models so the adapter serialises them once."""
        activity = turn_context.activity
        if activity.name == SEARCH and self.searches is not None and self.services is not None:
            actor: Actor = turn_context.turn_state[ACTOR]
            body = await self.searches.answer(self.services.hub, actor, activity.value)
            return InvokeResponse(status=200, body=body)
        if activity.name == CARD_ACTION and self.actions is not None:
            invoke = self._get_adaptive_card_invoke_value(activity)
            return card_response(await self._run_action(turn_context, invoke))
        return await super().on_invoke_activity(turn_context)

    async def _run_action(
        self, context: TurnContext, invoke: AdaptiveCardInvokeValue
    ) -> dict[str, Any]:
        action = invoke.action or {}
        data = action.get("data") if isinstance(action.get("data"), dict) else {}
        assert self.actions is not None
        return await self.actions.run(
            self._action_turn(context, action_data(data)), str(action.get("verb") or "")
        )

    async def _run_fallback(self, context: TurnContext, value: dict[str, Any]) -> None:
        """An older client's ``Action.Submit``: run the same verb, and put the answer in place of
        the card clicked (its message is ``replyToId``), or below it when that is unknown."""
        assert self.actions is not None
        card = await self.actions.run(self._action_turn(context, action_data(value)), value[VERB])
        reply = card_activity(card)
        if context.activity.reply_to_id:
            reply.id = context.activity.reply_to_id
            await context.update_activity(reply)
        else:
            await context.send_activity(reply)

    @staticmethod
    def _bot_was_added(context: TurnContext) -> bool:
        recipient = context.activity.recipient.id if context.activity.recipient else None
        return any(m.id == recipient for m in context.activity.members_added or [])

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        actor: Actor = turn_context.turn_state[ACTOR]
        t = self._t(turn_context, actor)
        if self.intake is not None:
            turn = Turn(turn_context, actor, t, "", self.panel_url)
            if files := files_of(turn_context.activity):
                await self.intake.receive(turn, files)
                return
            if is_file_action(turn_context.activity.value):
                await self.intake.choose(turn, turn_context.activity.value)
                return
        value = turn_context.activity.value
        if self.actions is not None and self.services is not None and is_card_action(value):
            await self._run_fallback(turn_context, value)
            return
        text = (TurnContext.remove_recipient_mention(turn_context.activity) or "").strip()
        if not text:
            return
        command, args = self.commands.find(text)
        if command is None or actor.kind not in command.audience:
            card = cards.unknown_command_card(t, t.lang, text, self.commands.help_word(t.lang))
            await turn_context.send_activity(card_activity(card))
            return
        await command.handler(Turn(turn_context, actor, t, args, self.panel_url))

    async def on_conversation_update_activity(self, turn_context: TurnContext) -> None:
        # Only the bot's own arrival matters (the app was installed). The SDK's Teams dispatch
        # would first fetch every added member from the connector, a call we do not need.
        if not self._bot_was_added(turn_context):
            return
        actor: Actor = turn_context.turn_state[ACTOR]
        t = self._t(turn_context, actor)
        card = cards.welcome_card(
            t,
            t.lang,
            actor.display_name,
            actor.firm_name,
            actor.is_staff,
            self.commands.help_word(t.lang),
        )
        await turn_context.send_activity(card_activity(card))
